import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Interrupts: SIGINT and SIGTERM during RUN, COPY of a big context, pull, push and save. berth
/// must exit within 5 s with 130 or 143 and leave no mount, container process, cgroup or
/// temporary file (in $TMPDIR or the store's tmp/) behind. (`make test-slow`.)
@Suite(.serialized, .enabled(if: Reliability.enabled)) struct ReliabilityInterruptTests {
    /// One interrupted command.
    struct Case {
        var name: String
        var args: [String]
        /// Returns once the command is where the signal should reach it.
        var ready: (Spawned) -> Void
    }

    /// Sends `signal` to the command; returns what went wrong (empty when nothing did).
    func interrupt(_ c: Case, _ signal: Int32, _ h: BerthHarness, marker: String?) throws -> [String] {
        var problems: [String] = []
        let label = "\(c.name) \(signal == SIGINT ? "SIGINT" : "SIGTERM")"
        let child = try h.spawn(c.args)
        c.ready(child)
        guard child.isRunning else {
            return ["\(label): finished before the signal (status \(child.wait())): the case needs more work"]
        }
        let sent = Reliability.now()
        kill(child.pid, signal)
        while child.isRunning && Reliability.now() - sent < 10 { Reliability.sleep(0.02) }
        if child.isRunning { kill(child.pid, SIGKILL) }
        let status = child.wait()
        let took = Reliability.now() - sent
        Reliability.report("interrupt \(label): exit \(status) after \(String(format: "%.2f", took)) s")
        if took > 5 { problems.append("\(label): took \(String(format: "%.1f", took)) s to exit") }
        if status != 128 + signal { problems.append("\(label): exit status \(status), not \(128 + signal)") }
        if let marker {
            Reliability.sleep(0.2)
            let left = Reliability.processes(containing: marker)
            if !left.isEmpty { problems.append("\(label): container processes left: \(left)") }
        }
        let cgroups = Reliability.cgroups(ownedBy: child.pid)
        if !cgroups.isEmpty { problems.append("\(label): cgroups left: \(cgroups)") }
        let mounts = h.leakedMounts()
        if !mounts.isEmpty { problems.append("\(label): mounts left: \(mounts)") }
        let scratch = Reliability.entries(h.scratch)
        if !scratch.isEmpty { problems.append("\(label): TMPDIR left: \(scratch)") }
        let temporary = Reliability.entries(h.root + "/tmp")
        if !temporary.isEmpty { problems.append("\(label): store tmp/ left: \(temporary)") }
        if let check = try h.checkProblems() { problems.append("\(label): system check: \(check)") }
        // Clean up for the next case whatever happened.
        for pid in marker.map({ Reliability.processes(containing: $0) }) ?? [] { kill(pid, SIGKILL) }
        if !temporary.isEmpty || !scratch.isEmpty {
            _ = try h.berth(["system", "check", "--repair"])
            for name in scratch { try? FileManager.default.removeItem(atPath: h.scratch + "/" + name) }
        }
        return problems
    }

    /// Whether a COPY into /ctx has started placing files in a step's upper directory.
    static func placingFiles(under root: String) -> Bool {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: root + "/snapshots")) ?? []
        return ids.contains { FileManager.default.fileExists(atPath: root + "/snapshots/\($0)/fs/ctx") }
    }

    /// Waits until `condition` holds (at most `timeout` s) while the child runs.
    static func waitFor(_ child: Spawned, timeout: Double = 30, _ condition: () -> Bool) {
        let start = Reliability.now()
        while child.isRunning && !condition() && Reliability.now() - start < timeout { Reliability.sleep(0.02) }
    }

    @Test func interruptedCommandsLeaveNothingBehind() throws {
        let started = Reliability.now()
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        var problems: [String] = []
        var cases = 0
        for signal in [SIGINT, SIGTERM] {
            let tag = signal == SIGINT ? "int" : "term"
            // RUN: interrupted while the container runs (its shell carries a marker in argv).
            let marker = "berth-reliability-\(tag)-\(UUID().uuidString.prefix(8))"
            let run = try h.context(
                "run-\(tag)",
                ["Dockerfile": "FROM busybox-base\nRUN sh -c 'while true; do sleep 0.1; done' \(marker)\n"])
            problems += try interrupt(
                Case(name: "RUN", args: ["build", "-q", run]) { child in
                    Self.waitFor(child) { !Reliability.processes(containing: marker).isEmpty }
                }, signal, h, marker: marker)
            // COPY: a 256 MB file and 6,000 small ones; the signal comes once files are being
            // placed (the copy runs on several threads then), not after a fixed delay that a
            // faster build outruns.
            let copy = try h.context("copy-\(tag)", ["Dockerfile": "FROM busybox-base\nCOPY . /ctx/\n"])
            try Reliability.writeRandomFile(copy + "/big", size: 256 << 20, seed: UInt64(signal))
            for index in 0..<6_000 {
                let directory = copy + "/many/d\(index / 500)"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try Data("file \(index)\n".utf8).write(to: URL(fileURLWithPath: directory + "/f\(index)"))
            }
            problems += try interrupt(
                Case(name: "COPY", args: ["build", "-q", copy]) { child in
                    Self.waitFor(child) { Self.placingFiles(under: h.root) }
                }, signal, h, marker: nil)
            try? FileManager.default.removeItem(atPath: copy)
            cases += 2
        }

        // A 96 MB image of random data per signal: gzip makes save and push take seconds.
        var images: [Int32: String] = [:]
        for signal in [SIGINT, SIGTERM] {
            let name = "big-\(signal)"
            let context = try h.context(
                name,
                [
                    "Dockerfile":
                        "FROM busybox-base\nRUN dd if=/dev/urandom of=/big bs=1M count=96 2>/dev/null # \(signal)\n"
                ])
            try #require(try h.berth(["build", "-q", "-t", name, context]).status == 0)
            images[signal] = name
        }
        for signal in [SIGINT, SIGTERM] {
            let output = h.work + "/saved-\(signal).tar"
            problems += try interrupt(
                Case(
                    name: "save", args: ["save", "--compression", "gzip", "-o", output, images[signal] ?? ""]
                ) { _ in Reliability.sleep(0.4) }, signal, h, marker: nil)
            try? FileManager.default.removeItem(atPath: output)
            cases += 1
        }
        if TestRegistry.available {
            let registry = try TestRegistry()
            for signal in [SIGINT, SIGTERM] {
                // push: a fresh copy under the registry's name (its gzip copy is not made yet).
                let name = "\(registry.host)/interrupt/push-\(signal):1"
                let context = try h.context(
                    "push-\(signal)",
                    [
                        "Dockerfile":
                            "FROM busybox-base\nRUN dd if=/dev/urandom of=/big bs=1M count=96 2>/dev/null # push \(signal)\n"
                    ])
                try #require(try h.berth(["build", "-q", "-t", name, context]).status == 0)
                problems += try interrupt(
                    Case(name: "push", args: ["push", name]) { _ in Reliability.sleep(0.5) }, signal, h, marker: nil)
                // pull: into an empty store, once the image is in the registry.
                let pushed = try h.berth(["push", name])
                try #require(pushed.status == 0, "\(pushed.stderr)")
                let empty = try BerthHarness()
                defer { empty.cleanup() }
                problems += try interrupt(
                    // 0.15 s: over libcurl a 96 MB pull from the local registry takes well under 0.5 s.
                    Case(name: "pull", args: ["pull", name]) { _ in Reliability.sleep(0.15) }, signal, empty,
                    marker: nil)
                cases += 2
            }
        } else {
            Reliability.report("interrupt: push and pull skipped (apt-get install docker-registry)")
        }
        Reliability.report(
            "interrupt total: \(cases) cases, \(problems.count) problems, \(String(format: "%.0f", Reliability.now() - started)) s"
        )
        for problem in problems {
            Reliability.report("FAILURE \(problem)")
            Issue.record("\(problem)")
        }
    }
}
