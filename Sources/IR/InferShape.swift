/// Shape inference for one op, PyTorch's formulas. Used while the spec is elaborated (blocks need
/// their input channels) and by `Graph.validate()` after every compiler pass.
public func inferShape(_ op: Op, inputs: [TensorShape]) throws(ShapeError) -> TensorShape {
    func featureMap(_ i: Int = 0) throws(ShapeError) -> TensorShape {
        let s = inputs[i]
        guard s.isFeatureMap else {
            throw ShapeError(.rankMismatch, "\(op.kindName) expects a feature map [C, H, W]; found the flat vector \(s)", inputs: [i])
        }
        return s
    }
    let result: TensorShape
    switch op {
    case .input:
        result = inputs.first ?? TensorShape([])
    case .conv2d(let c):
        let x = try featureMap()
        guard c.outChannels > 0 else { throw ShapeError(.invalidSize, "conv2d expects a positive number of output channels; found \(c.outChannels)", field: "out") }
        guard c.groups > 0 else { throw ShapeError(.invalidSize, "groups must be positive; found \(c.groups)", field: "groups") }
        guard x.channels % c.groups == 0 else {
            throw ShapeError(.groupsMismatch, "groups (\(c.groups)) must divide the input channels (\(x.channels))", field: "groups")
        }
        guard c.outChannels % c.groups == 0 else {
            throw ShapeError(.groupsMismatch, "groups (\(c.groups)) must divide the output channels (\(c.outChannels))", field: "groups")
        }
        let h = try windowOutput(x.height, kernel: c.kernel.h, stride: c.stride.h, padBefore: c.padding.top,
                                 padAfter: c.padding.bottom, dilation: c.dilation.h, ceil: false, axis: "height", op: "conv2d")
        let w = try windowOutput(x.width, kernel: c.kernel.w, stride: c.stride.w, padBefore: c.padding.left,
                                 padAfter: c.padding.right, dilation: c.dilation.w, ceil: false, axis: "width", op: "conv2d")
        // The weight is a tensor too: its element count must stay indexable (and countable).
        let weight = TensorShape([c.outChannels, x.channels / c.groups, c.kernel.h, c.kernel.w])
        guard let n = weight.elementCount, n <= maxTensorElements else {
            throw ShapeError(.invalidSize, "conv2d weight \(weight) would have more than \(maxTensorElements) elements", field: "kernel")
        }
        result = TensorShape(channels: c.outChannels, height: h, width: w)
    case .batchNorm(let bn):
        let x = try featureMap()
        guard bn.eps > 0, bn.eps.isFinite else { throw ShapeError(.invalidValue, "batchnorm eps must be a positive number; found \(bn.eps)", field: "eps") }
        result = x
    case .pool2d(let p):
        let x = try featureMap()
        let name = p.kind == .max ? "max_pool2d" : "avg_pool2d"
        guard p.padding.h <= p.kernel.h / 2, p.padding.w <= p.kernel.w / 2 else {
            throw ShapeError(.invalidValue, "\(name) padding (\(p.padding)) must be at most half the kernel (\(p.kernel))", field: "padding")
        }
        let h = try windowOutput(x.height, kernel: p.kernel.h, stride: p.stride.h, padBefore: p.padding.h, padAfter: p.padding.h,
                                 dilation: p.dilation.h, ceil: p.ceilMode, axis: "height", op: name)
        let w = try windowOutput(x.width, kernel: p.kernel.w, stride: p.stride.w, padBefore: p.padding.w, padAfter: p.padding.w,
                                 dilation: p.dilation.w, ceil: p.ceilMode, axis: "width", op: name)
        result = TensorShape(channels: x.channels, height: h, width: w)
    case .adaptiveAvgPool2d(let oh, let ow):
        let x = try featureMap()
        guard oh > 0, ow > 0 else { throw ShapeError(.invalidSize, "adaptive_avg_pool2d expects a positive output size; found [\(oh), \(ow)]", field: "size") }
        result = TensorShape(channels: x.channels, height: oh, width: ow)
    case .flatten:
        guard let n = inputs[0].elementCount else { throw ShapeError(.invalidSize, "flatten of \(inputs[0]) overflows") }
        result = TensorShape([n])
    case .linear(let l):
        let x = inputs[0]
        guard x.rank == 1 else {
            throw ShapeError(.rankMismatch, "linear expects a flat vector; found the feature map \(x) (add a flatten layer before it)", inputs: [0])
        }
        guard l.outFeatures > 0 else { throw ShapeError(.invalidSize, "linear expects a positive number of output features; found \(l.outFeatures)", field: "out") }
        result = TensorShape([l.outFeatures])
    case .activation, .dropout, .stochasticDepth, .softmax:
        result = inputs[0]
    case .add:
        for i in inputs.indices.dropFirst() where inputs[i] != inputs[0] {
            throw ShapeError(.shapeMismatch, "add expects inputs of one shape; found \(inputs[0]) and \(inputs[i])", inputs: [0, i])
        }
        result = inputs[0]
    case .concat:
        var channels = 0
        for i in inputs.indices {
            let x = try featureMap(i)
            guard x.height == inputs[0].height, x.width == inputs[0].width else {
                throw ShapeError(.shapeMismatch, "concat expects inputs of one height and width; found \(inputs[0]) and \(x)", inputs: [0, i])
            }
            channels += x.channels
        }
        result = TensorShape(channels: channels, height: inputs[0].height, width: inputs[0].width)
    case .multiply:
        let x = inputs[0], g = inputs[1]
        let gate = g.isFeatureMap && g.height == 1 && g.width == 1 && g.channels == x.channels && x.isFeatureMap
        guard g == x || gate else {
            throw ShapeError(.shapeMismatch, "multiply expects a second input of shape \(x) or [\(x.channels), 1, 1]; found \(x) and \(g)", inputs: [0, 1])
        }
        result = x
    }
    for d in result.dims where d <= 0 {
        throw ShapeError(.invalidSize, "\(op.kindName) would produce the empty shape \(result)")
    }
    guard let n = result.elementCount, n <= maxTensorElements else {
        throw ShapeError(.invalidSize, "\(op.kindName) would produce \(result), more than \(maxTensorElements) elements per sample")
    }
    return result
}

/// Output length of a sliding window along one axis (convolution or pooling), PyTorch's rule:
/// floor or ceil of (in + pads - dilation*(k-1) - 1) / stride + 1; with ceil_mode the last window
/// must start inside the input or the left padding.
public func windowOutput(_ input: Int, kernel: Int, stride: Int, padBefore: Int, padAfter: Int, dilation: Int,
                         ceil: Bool, axis: String, op: String) throws(ShapeError) -> Int {
    guard kernel > 0 else { throw ShapeError(.invalidSize, "\(op) kernel must be positive; found \(kernel)", field: "kernel") }
    guard stride > 0 else { throw ShapeError(.invalidSize, "\(op) stride must be positive; found \(stride)", field: "stride") }
    guard dilation > 0 else { throw ShapeError(.invalidSize, "\(op) dilation must be positive; found \(dilation)", field: "dilation") }
    guard padBefore >= 0, padAfter >= 0 else { throw ShapeError(.invalidSize, "\(op) padding must not be negative; found \(min(padBefore, padAfter))", field: "padding") }
    let (span0, o1) = dilation.multipliedReportingOverflow(by: kernel - 1)
    guard !o1, span0 < Int.max / 2 else { throw ShapeError(.invalidSize, "\(op) window size overflows", field: "kernel") }
    let (partial, o2) = input.addingReportingOverflow(padBefore)
    let (padded, o3) = partial.addingReportingOverflow(padAfter)
    guard !o2, !o3, padded < Int.max / 2 else {
        throw ShapeError(.invalidSize, "\(op) padding \(max(padBefore, padAfter)) is too large", field: "padding")
    }
    let span = span0 + 1
    guard span <= padded else {
        let what = dilation > 1 ? "kernel \(kernel) with dilation \(dilation) spans \(span)" : "kernel \(kernel)"
        throw ShapeError(.kernelTooLarge, "\(op) \(what), larger than the padded input \(axis) \(padded)", field: "kernel")
    }
    var out = (padded - span) / stride + 1
    if ceil {
        // Ceiling division without `+ stride - 1`, which overflows for a huge stride.
        let room = padded - span
        out = room / stride + (room % stride == 0 ? 0 : 1) + 1
        if (out - 1) * stride >= input + padBefore { out -= 1 }
    }
    return out
}
