import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Concurrency: four berth processes at a time build (different and identical Dockerfiles), tag,
/// remove and prune on one store, round after round. Nothing may fail (waiting for the store lock
/// is the documented behaviour of prune and check); every image built while a prune ran must run;
/// `system check` stays clean. (`make test-slow`; seed in $BERTH_SEED, printed.)
@Suite(.serialized, .enabled(if: Reliability.enabled)) struct ReliabilityConcurrencyTests {
    static let workers = 4
    static let rounds = 50

    enum Action: CustomStringConvertible {
        case buildUnique, buildIdentical, tag, rmi, prune, imagePrune
        var description: String {
            switch self {
            case .buildUnique: "build"
            case .buildIdentical: "build-same"
            case .tag: "tag"
            case .rmi: "rmi"
            case .prune: "system-prune"
            case .imagePrune: "image-prune"
            }
        }
    }

    static func pick(_ generator: inout SeededGenerator) -> Action {
        switch Int.random(in: 0..<20, using: &generator) {
        case 0..<6: .buildUnique
        case 6..<10: .buildIdentical
        case 10..<13: .tag
        case 13..<16: .rmi
        case 16..<19: .prune
        default: .imagePrune
        }
    }

    @Test func fourProcessesShareOneStore() throws {
        let seed = Reliability.seed
        Reliability.report("concurrency suite seed \(seed) (BERTH_SEED=\(seed) replays it)")
        var generator = SeededGenerator(seed: seed &+ 1)
        let started = Reliability.now()
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let identical = try h.context(
            "same",
            [
                "Dockerfile": """
                FROM busybox-base
                RUN echo same > /id && dd if=/dev/urandom of=/r bs=64k count=16 2>/dev/null && sleep 0.2
                COPY note /note
                RUN cat /note >> /id
                CMD ["cat", "/id"]
                """, "note": "note\n",
            ])
        var owned: [[String]] = Array(repeating: [], count: Self.workers)
        var failures: [String] = []
        var counts: [String: Int] = [:]
        var waits = 0
        var runsAfterPrune = 0

        for round in 0..<Self.rounds {
            var children: [(worker: Int, action: Action, args: [String], expect: (tag: String, output: String)?)] = []
            for worker in 0..<Self.workers {
                let action = Self.pick(&generator)
                var args: [String]
                var expect: (String, String)?
                switch action {
                case .buildUnique:
                    let tag = "w\(worker)-r\(round)"
                    let context = try h.context(
                        tag,
                        [
                            "Dockerfile": """
                            FROM busybox-base
                            RUN echo \(tag) > /id && dd if=/dev/urandom of=/r bs=64k count=8 2>/dev/null
                            CMD ["cat", "/id"]
                            """
                        ])
                    args = ["build", "-q", "-t", tag, context]
                    expect = (tag, "\(tag)\n")
                    owned[worker].append(tag)
                case .buildIdentical:
                    let tag = "w\(worker)-same"
                    args = ["build", "-q", "-t", tag, "-t", "shared", identical]
                    expect = (tag, "same\nnote\n")
                    if !owned[worker].contains(tag) { owned[worker].append(tag) }
                case .tag:
                    if let source = owned[worker].last {
                        let tag = "w\(worker)-t\(round)"
                        args = ["tag", source, tag]
                        owned[worker].append(tag)
                    } else {
                        args = ["images", "-q"]
                    }
                case .rmi:
                    if !owned[worker].isEmpty {
                        args = ["rmi", owned[worker].removeFirst()]
                    } else {
                        args = ["images", "-q"]
                    }
                case .prune:
                    args = ["system", "prune", "-f"]
                case .imagePrune:
                    args = ["image", "prune", "-f"]
                }
                counts[action.description, default: 0] += 1
                children.append((worker, action, args, expect))
            }
            let spawned = try children.map { try h.spawn($0.args) }
            let statuses = spawned.map { $0.wait() }
            let pruned = children.contains { $0.action == .prune || $0.action == .imagePrune }
            for (index, child) in children.enumerated() {
                let stderr = spawned[index].stderr
                if stderr.contains("waiting for other berth processes") { waits += 1 }
                if statuses[index] != 0 {
                    failures.append(
                        "round \(round) worker \(child.worker) \(child.args.joined(separator: " ")): status \(statuses[index]): \(stderr)"
                    )
                    continue
                }
                // What a build made must run, above all when a prune ran beside it.
                if let expect = child.expect, pruned {
                    runsAfterPrune += 1
                    let run = try h.berth(["run", "--rm", expect.tag], environment: h.environment)
                    if run.status != 0 || run.stdout != expect.output {
                        failures.append(
                            "round \(round): \(expect.tag) built beside a prune does not run: \(run.status) \(run.stdout) \(run.stderr)"
                        )
                    }
                }
            }
            if round % 10 == 9, let problems = try h.checkProblems() {
                failures.append("round \(round): system check: \(problems)")
                _ = try h.berth(["system", "check", "--repair"])
            }
        }
        if let problems = try h.checkProblems() { failures.append("end: system check: \(problems)") }
        for broken in try h.brokenTags(run: false) { failures.append("end: \(broken)") }
        let names = Set(try h.tags().map(\.tag))
        for tag in owned.joined() where !names.contains(tag + ":latest") {
            failures.append("end: tag \(tag) is missing")
        }
        if !h.leakedMounts().isEmpty { failures.append("end: mounts left: \(h.leakedMounts())") }
        let actions = counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        Reliability.report(
            "concurrency: \(Self.rounds) rounds × \(Self.workers) processes (\(actions)); \(runsAfterPrune) images built beside a prune ran; \(waits) lock waits; \(failures.count) failures; \(String(format: "%.0f", Reliability.now() - started)) s"
        )
        for failure in failures {
            Reliability.report("FAILURE \(failure)")
            Issue.record("\(failure)")
        }
    }
}
