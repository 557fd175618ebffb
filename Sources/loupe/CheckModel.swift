import ArgumentParser
import LoupeFormats

/// `loupe check-model MODEL [--config JSON]`: loads the model and exits 0, or 1 with the
/// error. Hidden: `HDF5Guard` (LoupeFormats) runs it in a child process before the command
/// reads an HDF5 model file itself; it does what the `loupe-check-model` helper does for
/// library callers, so the `loupe` binary guards on its own.
struct CheckModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-model",
        abstract: "Load a model file and report whether it loads (used internally for HDF5 files).",
        shouldDisplay: false
    )

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "Keras architecture JSON for a weights-only .h5 file.")
    var config: String?

    func run() throws {
        let status = HDF5Guard.runChild(path: model, config: config)
        if status != 0 { throw ExitCode(status) }
    }
}
