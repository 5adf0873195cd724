import Foundation
import ModelcCLI

exit(modelcMain(Array(Swift.CommandLine.arguments.dropFirst())))
