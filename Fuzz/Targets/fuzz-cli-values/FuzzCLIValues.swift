import ArgumentParser
import Foundation
import LoupeExplain
import LoupeFuzzSupport

/// The command line's value parsers. This target compiles the `loupe` sources again (the
/// folder `CLI` is a symlink to Sources/loupe, with `main` renamed to `loupe_cli_main`), so
/// the parsers are the CLI's own. The input is an argument vector, arguments separated by
/// NUL or newline bytes. When its first arguments name a subcommand (`explain`, `surgery
/// set-batch`), the rest is parsed by that subcommand as `loupe` would parse it
/// (swift-argument-parser, then its `validate()`, where the subcommands parse HxW sizes,
/// NAME=DIMS shapes, method lists, channel lists, LAYER:K units, mean/std lists and query
/// indices); otherwise the whole vector is parsed as `loupe ARGS...` (the root's dispatch,
/// `--help`, `--version`, unknown subcommands). `run()` is never called. Each argument is also
/// handed to each value parser directly. A thrown error of any kind is the expected answer; a
/// trap (an overflow, an index out of range) is a finding.
///
/// Why the subcommand is parsed directly: swift-argument-parser rebuilds a command's whole
/// argument set by reflection each time it looks at it, and the root's parse looks at the
/// matched subcommand's set once more before that subcommand's own parse does (about a
/// quarter of the time per input, docs/fuzzing.md). The subcommand's parse and `validate()`
/// are the same either way.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCLIValues(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let raw = FuzzHarness.raw(bytes, size)
    let args = raw.split(whereSeparator: { $0 == 0 || $0 == 0x0A }).map { String(decoding: $0, as: UTF8.self) }
    _ = FuzzHarness.setUp
    var command: ParsableCommand.Type = Loupe.self
    var used = 0
    while used < args.count, let sub = CLICommands.subcommands[ObjectIdentifier(command)]?[args[used]] {
        command = sub
        used += 1
    }
    _ = try? command.parseAsRoot(Array(args[used...]))
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

/// The command tree under `loupe`, read once from the commands' configurations: for each
/// command, its subcommands by name and alias.
private enum CLICommands {
    static let subcommands: [ObjectIdentifier: [String: ParsableCommand.Type]] = {
        var table: [ObjectIdentifier: [String: ParsableCommand.Type]] = [:]
        var pending: [ParsableCommand.Type] = [Loupe.self]
        while let command = pending.popLast() {
            var names: [String: ParsableCommand.Type] = [:]
            for sub in command.configuration.subcommands {
                for name in [sub._commandName] + sub.configuration.aliases { names[name] = sub }
                pending.append(sub)
            }
            table[ObjectIdentifier(command)] = names
        }
        return table
    }()
}
