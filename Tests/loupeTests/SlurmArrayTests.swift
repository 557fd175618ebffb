import Foundation
import LoupeTestSupport
import XCTest

@testable import LoupeFormats

/// `loupe features` as a Slurm job array (issue 15, point 7): a one-node cluster on localhost
/// (Scripts/slurm/one-node.sh, Debian's slurm-wlm and munge, which Scripts/test.sh installs)
/// runs docs/cluster/features-array.sbatch as a 4-task array on the shapes test set, then
/// docs/cluster/features-merge.sbatch as a job depending on it; the merged file must equal
/// the unsharded run. The daemons are stopped when the test ends, pass or fail.
///
/// Under Scripts/test.sh (which sets LOUPE_REQUIRE_SLURM=1) or in CI (CI=true) a missing Slurm
/// fails the test; elsewhere it is skipped with a message.
final class SlurmArrayTests: XCTestCase {
    static let script = CLITests.root.appendingPathComponent("Scripts/slurm/one-node.sh")
    static let arrayJob = CLITests.root.appendingPathComponent("docs/cluster/features-array.sbatch").path
    static let mergeJob = CLITests.root.appendingPathComponent("docs/cluster/features-merge.sbatch").path

    /// A program from PATH or /usr/sbin.
    static func tool(_ name: String) -> URL? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin"]
        return dirs.map { URL(fileURLWithPath: $0).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    func run(_ tool: URL, _ args: [String], _ env: [String: String] = [:], timeout: Double = 60) throws -> LoupeBinary.Result {
        let r = try LoupeBinary.run(executable: tool, args, environment: env, timeout: timeout)
        XCTAssertFalse(r.timedOut, "\(tool.lastPathComponent) \(args.joined(separator: " ")) was killed after \(timeout) s")
        return r
    }

    func testFourTaskJobArrayMergesToTheUnshardedFile() throws {
        let missing = ["sbatch", "slurmctld", "slurmd", "munged"].filter { Self.tool($0) == nil }
        if !missing.isEmpty {
            let message = "Slurm is not installed (\(missing.joined(separator: ", ")) missing): apt-get install slurm-wlm munge, as Scripts/test.sh does"
            let env = ProcessInfo.processInfo.environment
            if env["CI"] == "true" || env["LOUPE_REQUIRE_SLURM"] == "1" { XCTFail(message); return }
            throw XCTSkip(message)
        }
        let bash = URL(fileURLWithPath: "/bin/bash")
        let dir = try TemporaryFolder.make("loupe-slurm", for: self).path
        let cluster = "\(dir)/cluster", out = "\(dir)/out"
        try FileManager.default.createDirectory(atPath: cluster, withIntermediateDirectories: true)

        // The unsharded reference first, while no daemon runs.
        let model = FeaturesCLITests.gap, images = FeaturesCLITests.test, loupe = LoupeBinary.url.path
        let whole = try CLITests.run(["features", model, images, "--preprocess", "none", "--batch", "8", "-o", "\(dir)/whole.h5"])
        XCTAssertEqual(whole.status, 0, whole.stderr)

        let start = Date()
        let started = try run(bash, [Self.script.path, "start", cluster])
        // Registered before checking the start, so a half-started cluster is stopped too
        // (teardown blocks run before the temporary folder's removal, registered earlier).
        addTeardownBlock {
            let stopped = try? LoupeBinary.run(executable: bash, [Self.script.path, "stop", cluster], timeout: 60)
            if stopped?.status != 0 { print("one-node.sh stop: \(stopped?.stderr ?? "did not run")") }
        }
        XCTAssertEqual(started.status, 0, started.stderr)
        guard started.status == 0 else { return }
        print(String(format: "slurm: one-node cluster up in %.1f s", Date().timeIntervalSince(start)))

        let env = ["SLURM_CONF": "\(cluster)/slurm.conf", "LOUPE": loupe, "MODEL": model, "IMAGES": images,
                   "OUT": out, "SHARDS": "4", "LOUPE_ARGS": "--preprocess none --batch 8"]
        let sbatch = Self.tool("sbatch")!
        // One CPU per task (the template asks for 2), four at once on this node's CPUs.
        let array = try run(sbatch, ["--parsable", "--wait", "--array=0-3", "--cpus-per-task=1", "--mem=500M",
                                     "--output=\(dir)/task-%a.out", Self.arrayJob], env)
        XCTAssertEqual(array.status, 0, "sbatch: \(array.stderr)\n" + taskOutputs(dir))
        let jobID = array.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
        XCTAssertNotNil(Int(jobID), "sbatch --parsable printed '\(array.stdout)'")
        print(String(format: "slurm: 4-task array job %@ done %.1f s after the start", jobID, Date().timeIntervalSince(start)))
        // `sbatch --wait` can exit 0 with no task run: every task must have said it finished.
        for i in 0..<4 {
            let log = (try? String(contentsOfFile: "\(dir)/task-\(i).out", encoding: .utf8)) ?? "(no output file)"
            XCTAssertTrue(log.contains("loupe-features: shard \(i)/4 done"), "task \(i): \(log)")
            XCTAssertTrue(log.contains("wrote \(out)/part-\(i)-of-4.h5: 30 rows"), "task \(i): \(log)")
        }

        let merge = try run(sbatch, ["--parsable", "--wait", "--dependency=afterok:\(jobID)", "--cpus-per-task=1", "--mem=500M",
                                     "--output=\(dir)/merge.out", Self.mergeJob], env)
        let mergeLog = (try? String(contentsOfFile: "\(dir)/merge.out", encoding: .utf8)) ?? "(no output file)"
        XCTAssertEqual(merge.status, 0, "sbatch: \(merge.stderr)\n\(mergeLog)")
        XCTAssertTrue(mergeLog.contains("loupe-features: merged 4 shards into \(out)/features.h5"), mergeLog)
        print(String(format: "slurm: merge job done %.1f s after the start", Date().timeIntervalSince(start)))

        let a = try FeatureFile.read("\(out)/features.h5"), b = try FeatureFile.read("\(dir)/whole.h5")
        XCTAssertEqual(a.header, b.header)  // model, layer, pool, preprocessing, image list; shard 0/1
        XCTAssertEqual(a.header.shard, "0/1")
        XCTAssertEqual(a.rows, 120)
        XCTAssertTrue(a.isComplete)
        XCTAssertEqual(a.paths, b.paths)
        XCTAssertEqual(a.index, (0..<120).map(Int64.init))
        XCTAssertEqual(a.labels, b.labels)
        XCTAssertEqual(a.features.count, b.features.count)
        // Other batches (a shard's batch of 8 holds other images) may sum in another order.
        var worst: Float = 0
        for r in 0..<120 {
            let row = (r * 64)..<((r + 1) * 64)
            let scale = max(b.features[row].map(abs).max()!, 1e-12)
            worst = max(worst, zip(a.features[row], b.features[row]).map { abs($0 - $1) }.max()! / scale)
        }
        print("slurm: merged vs unsharded features, largest row-relative difference \(worst)")
        XCTAssertLessThanOrEqual(worst, 1e-6)
    }

    /// Every task's output, for a failure message.
    func taskOutputs(_ dir: String) -> String {
        (0..<4).map { i in "task \(i): " + ((try? String(contentsOfFile: "\(dir)/task-\(i).out", encoding: .utf8)) ?? "(no output file)") }
            .joined(separator: "\n")
    }
}
