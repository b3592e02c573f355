import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Crash consistency: berth is killed with SIGKILL at a random moment of each operation that
/// writes to the store. Afterwards the store must check clean (or `system check --repair` removes
/// only leftovers nothing references, then checks clean), no mount is left, the same operation
/// succeeds, and every tag names an image that inspects and runs. (`make test-slow`; seed in
/// $BERTH_SEED, printed.)
@Suite(.serialized, .enabled(if: Reliability.enabled)) struct ReliabilityCrashTests {
    /// One operation killed over and over.
    struct Operation {
        var name: String
        var trials: Int
        /// Gives trial `n` something to do (builds a fresh image, removes what is to be loaded…).
        var prepare: (BerthHarness, Int) throws -> Void
        /// The berth arguments of trial `n`.
        var command: (Int) -> [String]
        /// After the operation has succeeded again.
        var finish: (BerthHarness, Int) throws -> Void = { _, _ in }
    }

    /// Kinds of problem a crash may leave (things nothing references); any other is a bug.
    static let leftovers = ["leftover temporary file", "has no record", "left active by an interrupted berth"]

    /// Totals over the suite, for the report.
    final class Tally: @unchecked Sendable {
        var trials = 0
        var killedMidway = 0
        var repaired: [String: Int] = [:]
        var failures: [String] = []
    }

    /// Kills `operation` `trials` times at random moments in [0, 1.2 × its duration].
    func exercise(_ operation: Operation, _ h: BerthHarness, _ generator: inout SeededGenerator, _ tally: Tally)
        throws
    {
        // Calibrate: one run to completion.
        try operation.prepare(h, 0)
        let started = Reliability.now()
        let first = try h.berth(operation.command(0), environment: h.environment)
        let duration = Reliability.now() - started
        try #require(first.status == 0, "\(operation.name): \(first.stderr)")
        try operation.finish(h, 0)
        var killed = 0
        var verified: [String: String] = [:]
        for trial in 1...operation.trials {
            try operation.prepare(h, trial)
            let delay = Double.random(in: 0...(duration * 1.2), using: &generator)
            let child = try h.spawn(operation.command(trial))
            Reliability.sleep(delay)
            kill(child.pid, SIGKILL)
            let status = child.wait()
            if status == 128 + SIGKILL { killed += 1 }
            let label = "\(operation.name) trial \(trial) (kill after \(String(format: "%.3f", delay)) s)"
            tally.trials += 1
            let failuresBefore = tally.failures.count

            // The next berth start (the check): then nothing is mounted under the store.
            let problems = try h.checkProblems()
            let mounts = h.leakedMounts()
            if !mounts.isEmpty { tally.failures.append("\(label): mounts left: \(mounts)") }

            if let problems {
                let lines = problems.split(separator: "\n").map(String.init).filter {
                    !$0.hasPrefix("status ") && !$0.isEmpty && !$0.hasPrefix("berth: error: ")
                }
                for line in lines where !Self.leftovers.contains(where: { line.contains($0) }) {
                    tally.failures.append("\(label): check found damage: \(line)")
                }
                for kind in Self.leftovers where lines.contains(where: { $0.contains(kind) }) {
                    tally.repaired[kind, default: 0] += 1
                }
                verified = [:]
                let repair = try h.berth(["system", "check", "--repair"], environment: h.environment)
                if let after = try h.checkProblems() {
                    tally.failures.append("\(label): not clean after repair: \(repair.stdout) / \(after)")
                }
            }
            let again = try h.berth(operation.command(trial), environment: h.environment)
            if again.status != 0 { tally.failures.append("\(label): the same operation failed: \(again.stderr)") }
            for broken in try h.brokenTags(run: true, verified: &verified) {
                tally.failures.append("\(label): \(broken)")
            }
            if !Reliability.entries(h.scratch).isEmpty {
                tally.failures.append("\(label): TMPDIR not empty: \(Reliability.entries(h.scratch))")
            }
            try operation.finish(h, trial)
            // Unnamed images and build cache go, so the store (and each check) stays small.
            _ = try h.berth(["system", "prune", "-f"], environment: h.environment)
            for failure in tally.failures[failuresBefore...] { Reliability.report("FAILURE \(failure)") }
        }
        Reliability.report(
            "crash \(operation.name): \(operation.trials) kills (\(killed) mid-operation), one uninterrupted run \(String(format: "%.2f", duration)) s"
        )
    }

    @Test func killedAnywhereTheStoreStaysConsistent() throws {
        let seed = Reliability.seed
        Reliability.report("crash suite seed \(seed) (BERTH_SEED=\(seed) replays it)")
        var generator = SeededGenerator(seed: seed)
        let tally = Tally()
        let started = Reliability.now()
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let registry: TestRegistry? = TestRegistry.available ? try TestRegistry() : nil

        let build: (String, @escaping (Int) -> String) -> Operation = { name, dockerfile in
            Operation(
                name: name, trials: 13,
                prepare: { h, trial in
                    _ = try h.context(name, ["Dockerfile": dockerfile(trial)])
                },
                command: { _ in ["build", "-q", "-t", name, h.work + "/" + name] })
        }
        var operations = [
            // RUN: the container is running when most kills land.
            build("run") { trial in
                """
                FROM busybox-base
                RUN echo trial-\(trial) > /trial && dd if=/dev/urandom of=/data bs=64k count=32 2>/dev/null && sleep 0.3
                CMD ["cat", "/trial"]
                """
            },
            // Snapshot commit: a 24 MB layer, so writing and hashing it takes most of the time.
            build("snapshot") { trial in
                """
                FROM busybox-base
                RUN dd if=/dev/zero of=/big bs=1M count=24 2>/dev/null && echo \(trial) > /n
                """
            },
        ]
        // save: a 16 MB image written to a file.
        let saveContext = try h.context(
            "save-src",
            ["Dockerfile": "FROM busybox-base\nRUN dd if=/dev/urandom of=/r bs=1M count=16 2>/dev/null\n"])
        try #require(try h.berth(["build", "-q", "-t", "save-app", saveContext]).status == 0)
        operations.append(
            Operation(
                name: "save", trials: 13, prepare: { _, _ in },
                command: { trial in ["save", "-o", h.work + "/saved-\(trial).tar", "save-app"] },
                finish: { h, trial in try? FileManager.default.removeItem(atPath: h.work + "/saved-\(trial).tar") }))
        // load: the archive of an image the store does not have (removed and swept before each trial).
        let archive = h.work + "/load.tar"
        let loadContext = try h.context(
            "load-src",
            ["Dockerfile": "FROM busybox-base\nRUN dd if=/dev/urandom of=/l bs=1M count=16 2>/dev/null\n"])
        try #require(try h.berth(["build", "-q", "-t", "load-app", loadContext]).status == 0)
        try #require(try h.berth(["save", "-o", archive, "load-app"]).status == 0)
        let forget: (BerthHarness, String) throws -> Void = { h, name in
            _ = try h.berth(["rmi", "-f", name])
            _ = try h.berth(["system", "prune", "-f"])
        }
        operations.append(
            Operation(
                name: "load", trials: 13, prepare: { h, _ in try forget(h, "load-app") },
                command: { _ in ["load", "-q", "-i", archive] }))
        // commit: a stopped container with a 16 MB change.
        operations.append(
            Operation(
                name: "commit", trials: 13,
                prepare: { h, trial in
                    let made = try h.berth([
                        "run", "--name", "c\(trial)", "busybox-base", "sh", "-c",
                        "dd if=/dev/urandom of=/c bs=1M count=16 2>/dev/null",
                    ])
                    try #require(made.status == 0, "\(made.stderr)")
                },
                command: { trial in ["commit", "c\(trial)", "commit-app"] },
                finish: { h, trial in _ = try h.berth(["rm", "c\(trial)"]) }))
        // system prune -a: an 8 MB image to collect (and the base, which is imported again).
        operations.append(
            Operation(
                name: "prune", trials: 13,
                prepare: { h, trial in
                    if try h.imageID("busybox-base").isEmpty { try h.importBase() }
                    let context = try h.context(
                        "prune-\(trial)",
                        [
                            "Dockerfile":
                                "FROM busybox-base\nRUN dd if=/dev/urandom of=/p bs=1M count=8 2>/dev/null && echo \(trial)\n"
                        ])
                    try #require(try h.berth(["build", "-q", "-t", "prune-app", context]).status == 0)
                },
                command: { _ in ["system", "prune", "-a", "-f"] },
                finish: { h, _ in try h.importBase() }))
        if let registry {
            // push: a fresh 8 MB image each trial.
            let pushName: (Int) -> String = { "\(registry.host)/crash/push:\($0)" }
            operations.append(
                Operation(
                    name: "push", trials: 13,
                    prepare: { h, trial in
                        let context = try h.context(
                            "push-\(trial)",
                            [
                                "Dockerfile":
                                    "FROM busybox-base\nRUN dd if=/dev/urandom of=/u bs=1M count=8 2>/dev/null && echo \(trial)\n"
                            ])
                        try #require(try h.berth(["build", "-q", "-t", pushName(trial), context]).status == 0)
                    },
                    command: { trial in ["push", pushName(trial)] },
                    finish: { h, trial in _ = try h.berth(["rmi", pushName(trial)]) }))
            // pull: a 16 MB image the store does not have (removed and swept before each trial).
            let pullName = "\(registry.host)/crash/pull:1"
            try #require(try h.berth(["tag", "load-app", pullName]).status == 0)
            try #require(try h.berth(["push", pullName]).status == 0)
            operations.append(
                Operation(
                    name: "pull", trials: 13, prepare: { h, _ in try forget(h, pullName) },
                    command: { _ in ["pull", pullName] }))
        } else {
            Reliability.report("crash: push and pull skipped (apt-get install docker-registry)")
        }
        for operation in operations {
            try exercise(operation, h, &generator, tally)
        }
        let repairs = tally.repaired.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        Reliability.report(
            "crash total: \(tally.trials) kills, \(tally.failures.count) failures, repairs after kills {\(repairs.joined(separator: ", "))}, \(String(format: "%.0f", Reliability.now() - started)) s"
        )
        for failure in tally.failures { Issue.record("\(failure)") }
        #expect(tally.trials >= 100)
    }
}
