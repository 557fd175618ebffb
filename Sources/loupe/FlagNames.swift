import Foundation
import LoupeTensor

/// The command line's spelling of what library errors name. Library messages name a
/// parameter or an API in backticks (`` `window` ``, `` `overwrite: true` ``); the command line
/// shows its own flag or command instead, so that the libraries never know the CLI.
enum FlagNames {
    /// Library name (with its backticks) → what the command line says instead.
    static let table: [(library: String, cli: String)] = [
        ("`overwrite: true`", "--force"),
        ("`config`", "--config"),
        ("`overrides`", "--input-shape"),
        ("`window`", "--window"),
        ("`stride`", "--stride"),
        ("`labels`", "--labels"),
        ("`at`", "--at"),
        ("`layer`", "--layer"),
        ("`maxChannels`", "--max-channels"),
        ("`outputs`", "--outputs"),
        ("`pool`", "--pool"),
        ("`augment`", "--augment"),
        ("`images`", "--images"),
        ("`labelsFromFolders`", "--labels-from-folders"),
        ("`Graph.nodes`", "`loupe inspect MODEL`"),
        ("`loupe surgery cam` (CAMRestructure in LoupeSurgery)", "`loupe surgery cam MODEL -o OUT.onnx --images DIR`"),
        ("`Method.gradCAM`", "--method grad-cam"),
    ]

    /// `e` with every library name in its message replaced by the command line's.
    static func map(_ e: LoupeError) -> LoupeError {
        var message = e.message
        for (library, cli) in table where message.contains(library) {
            message = message.replacingOccurrences(of: library, with: cli)
        }
        return LoupeError(e.kind, message)
    }
}
