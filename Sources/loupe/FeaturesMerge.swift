import ArgumentParser
import Foundation
import LoupeFormats
import LoupeTensor

struct FeaturesMerge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the feature files of a sharded run into one, in the order of the whole image list.",
        discussion: """
            Give every shard file of one run (`loupe features ... --shard I/N`), in any order. \
            The rows are put back in the order the unsharded run would have written them, and \
            the result is the file that run would have written (shard 0/1). Shards of different \
            runs (another model, layer, pooling, preprocessing or image list), a missing or \
            repeated shard, and an unfinished one are refused, naming the files.

            Example:
              loupe features merge part0.h5 part1.h5 part2.h5 part3.h5 -o all.h5
            """)

    @Argument(help: "The shard files.")
    var shards: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("The HDF5 file to write.", valueName: "all.h5"))
    var output: String

    @Flag(help: "Replace the output file if it exists.")
    var force = false

    func validate() throws {
        if shards.isEmpty { throw ValidationError("give the shard files to merge") }
    }

    func run() throws {
        try runReportingErrors {
            if !force { try checkWritable(output, force: false) }
            // Writing starts by truncating the output, so it must not be one of the shards read.
            let target = URL(fileURLWithPath: output).resolvingSymlinksInPath().standardizedFileURL.path
            if let shard = shards.first(where: {
                URL(fileURLWithPath: $0).resolvingSymlinksInPath().standardizedFileURL.path == target
            }) {
                throw LoupeError(.invalidArgument, "the output \(output) is the shard \(shard) itself; write the merged file elsewhere")
            }
            let merged = try FeatureFile.merge(shards, to: output, startOver: true)
            let n = shards.count
            print("merged \(n) shard\(n == 1 ? "" : "s") into \(output): \(merged.rows) rows of \(merged.dimension) features of '\(merged.header.layer)' (\(merged.header.totalImages) images, \(merged.header.totalImages - merged.rows) skipped as unreadable)")
        }
    }
}
