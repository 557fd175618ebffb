import ArgumentParser

@main
struct Loupe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loupe",
        abstract: "Open, run and explain trained convolutional networks from ONNX files, without the framework that trained them.",
        discussion: """
            Loupe reads a model file into its own graph representation and runs it on its own CPU engine.

            Examples:
              loupe inspect model.onnx
              loupe predict model.onnx cat.jpg --top 5 --labels labels.txt
              loupe bench model.onnx --runs 20 --threads 2
            """,
        version: LoupeVersion.string,
        subcommands: [Inspect.self, Run.self, Predict.self, Filters.self, Explain.self, Report.self, Convert.self, Bench.self, Surgery.self, Features.self, Neighbors.self, TSNECommand.self, ReceptiveFieldCommand.self, TopPatches.self, Atlas.self, Visualize.self, Evaluate.self, Sanity.self, CheckModel.self]
    )
}

enum LoupeVersion {
    static let string = "0.1.0"
}
