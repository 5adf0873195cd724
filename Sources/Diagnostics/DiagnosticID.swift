/// The catalog of every diagnostic modelc emits. The raw value is the id printed in brackets at
/// the end of the message; `summary` is the one-line explanation listed in `Specs/README.md`.
/// Every id has a fixture under `Tests/SpecTests/Fixtures` (checked by a test), so adding a case
/// here means adding a fixture that triggers it.
public enum DiagnosticID: String, CaseIterable, Sendable {
    // Reading the file.
    case fileUnreadable = "file-unreadable"
    case fileTooLarge = "file-too-large"

    // YAML.
    case yamlSyntax = "yaml-syntax"
    case yamlEmpty = "yaml-empty"
    case yamlMultipleDocuments = "yaml-multiple-documents"
    case yamlTooDeep = "yaml-too-deep"
    case yamlTooLarge = "yaml-too-large"
    case yamlDuplicateKey = "yaml-duplicate-key"
    case yamlUndefinedAlias = "yaml-undefined-alias"
    case yamlComplexKey = "yaml-complex-key"

    // Spec structure.
    case unknownKey = "unknown-key"
    case missingKey = "missing-key"
    case typeMismatch = "type-mismatch"
    case invalidValue = "invalid-value"
    case valueOutOfRange = "value-out-of-range"
    case unknownLayerKind = "unknown-layer-kind"
    case ambiguousLayerKind = "ambiguous-layer-kind"
    case unknownActivation = "unknown-activation"
    case unknownBlockParam = "unknown-block-param"
    case missingBlockParam = "missing-block-param"
    case duplicateDefinition = "duplicate-definition"
    case blockRecursion = "block-recursion"
    case unknownVariant = "unknown-variant"
    case unknownParameter = "unknown-parameter"
    case invalidSetFlag = "invalid-set-flag"
    case ineffectiveSet = "ineffective-set"
    case modelTooLarge = "model-too-large"

    // Expressions.
    case expressionSyntax = "expression-syntax"
    case undefinedName = "undefined-name"
    case expressionError = "expression-error"

    // Graph and shapes.
    case undefinedReference = "undefined-reference"
    case ambiguousReference = "ambiguous-reference"
    case cyclicReference = "cyclic-reference"
    case channelMismatch = "channel-mismatch"
    case shapeMismatch = "shape-mismatch"
    case rankMismatch = "rank-mismatch"
    case kernelTooLarge = "kernel-too-large"
    case invalidSize = "invalid-size"
    case groupsMismatch = "groups-mismatch"
    case duplicateParameterName = "duplicate-parameter-name"

    public var summary: String {
        switch self {
        case .fileUnreadable: "the spec path is missing, a directory, or cannot be read"
        case .fileTooLarge: "the spec file is larger than the 16 MiB a spec may be"
        case .yamlSyntax: "libyaml rejected the text (bad indentation, unclosed bracket, invalid UTF-8, ...)"
        case .yamlEmpty: "the file holds no YAML document"
        case .yamlMultipleDocuments: "the file holds more than one YAML document"
        case .yamlTooDeep: "collections nest deeper than 128 levels"
        case .yamlTooLarge: "the document, with aliases expanded, has more than 1,000,000 nodes"
        case .yamlDuplicateKey: "a mapping repeats a key"
        case .yamlUndefinedAlias: "an alias (*name) refers to an anchor that is not defined before it"
        case .yamlComplexKey: "a mapping key is a sequence or mapping instead of a scalar"
        case .unknownKey: "a mapping has a key the language does not define there"
        case .missingKey: "a required key is absent"
        case .typeMismatch: "a value has the wrong type (integer, number, boolean, string, list, mapping)"
        case .invalidValue: "a value of the right type is not one of the allowed ones"
        case .valueOutOfRange: "a number is outside the range allowed for its key (or overflows)"
        case .unknownLayerKind: "a layer item names no layer kind or block"
        case .ambiguousLayerKind: "a layer item names several layer kinds, or none"
        case .unknownActivation: "an activation name is not one of the supported activations"
        case .unknownBlockParam: "a block instance passes an argument the block does not declare"
        case .missingBlockParam: "a block instance omits a parameter that has no default"
        case .duplicateDefinition: "a block, parameter or variant is defined twice"
        case .blockRecursion: "a block instantiates itself, directly or through other blocks"
        case .unknownVariant: "--variant names no entry of the spec's variants table"
        case .unknownParameter: "--set or a variant assigns a parameter the spec does not declare"
        case .invalidSetFlag: "a --set flag is not of the form name=value"
        case .ineffectiveSet: "a --set parameter is never read (a variant sets what it would change)"
        case .modelTooLarge: "the elaborated model exceeds a size limit: layers, layer items or list elements evaluated"
        case .expressionSyntax: "a $(...) expression does not parse"
        case .undefinedName: "an expression or $name refers to no parameter or local value"
        case .expressionError: "an expression fails to evaluate (division by zero, bad argument, overflow)"
        case .undefinedReference: "a from/add/concat/multiply reference names no earlier layer"
        case .ambiguousReference: "a reference names several layers of the same scope"
        case .cyclicReference: "layer references form a cycle"
        case .channelMismatch: "a layer's declared input channels or features differ from its input's"
        case .shapeMismatch: "the inputs of add, concat or multiply have incompatible shapes"
        case .rankMismatch: "a layer gets a flat vector where it needs a feature map, or the reverse"
        case .kernelTooLarge: "a kernel (with dilation) is larger than its padded input"
        case .invalidSize: "a size is zero or negative, or a tensor is too large to index"
        case .groupsMismatch: "groups does not divide the input or output channels"
        case .duplicateParameterName: "two layers would produce the same parameter name"
        }
    }
}
