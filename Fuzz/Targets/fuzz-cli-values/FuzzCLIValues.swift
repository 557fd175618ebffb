import Foundation
import LoupeExplain
import LoupeFuzzSupport

/// The command line's value parsers. This target compiles the `loupe` sources again (the
/// folder `CLI` is a symlink to Sources/loupe, with `main` renamed to `loupe_cli_main`), so
/// the parsers are the CLI's own. The input is an argument vector, arguments separated by
/// NUL or newline bytes: it is parsed as `loupe ARGS...` (swift-argument-parser, then every
/// `validate()`, where the subcommands parse HxW sizes, NAME=DIMS shapes, method lists,
/// channel lists, LAYER:K units, mean/std lists and query indices; `run()` is never called),
/// and each argument is also handed to each value parser directly. A thrown error of any kind
/// is the expected answer; a trap (an overflow, an index out of range) is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCLIValues(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let raw = FuzzHarness.raw(bytes, size)
    let args = raw.split(whereSeparator: { $0 == 0 || $0 == 0x0A }).map { String(decoding: $0, as: UTF8.self) }
    _ = FuzzHarness.setUp
    _ = try? Loupe.parseAsRoot(args)
    for a in args {
        _ = try? parseHxW(a, "--size")
        _ = try? parseShapeAssignment(a)
        _ = try? Method.parse(a, flag: "--methods", list: true, all: true)
        _ = try? Visualize.parseUnit(a, flag: "--unit", numbers: 1)
        _ = try? Visualize.parseUnit(a, flag: "--unit", numbers: 3)
        _ = try? TopPatches.parseChannels(a)
        _ = try? Neighbors.parse(a)
    }
    return 0
}
