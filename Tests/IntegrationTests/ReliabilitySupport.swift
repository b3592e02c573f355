import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Shared pieces of the reliability suites (crash, concurrency, interrupts, hostile input). They
/// run only under `make test-slow` (BERTH_SLOW=1); `make test` skips them.
enum Reliability {
    /// True under `make test-slow`.
    static var enabled: Bool { ProcessInfo.processInfo.environment["BERTH_SLOW"] == "1" }

    /// The random seed: $BERTH_SEED, else a fixed one. Printed by every suite that uses it.
    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["BERTH_SEED"].flatMap { UInt64($0) } ?? 20_261_123
    }

    /// A one-line result for the log (`make test-slow` prints these; docs/reliability.md quotes them).
    /// Also appended to $BERTH_RELIABILITY_LOG when set (swift test shows output only at the end).
    static func report(_ line: String) {
        print("reliability: \(line)")
        fflush(nil)
        guard let log = ProcessInfo.processInfo.environment["BERTH_RELIABILITY_LOG"],
            let handle = FileHandle(forWritingAtPath: log)
                ?? {
                    _ = FileManager.default.createFile(atPath: log, contents: nil)
                    return FileHandle(forWritingAtPath: log)
                }()
        else { return }
        handle.seekToEndOfFile()
        handle.write(Data("reliability: \(line)\n".utf8))
        try? handle.close()
    }

    /// Processes whose command line contains `marker`.
    static func processes(containing marker: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { name -> pid_t? in
            guard let pid = pid_t(name), pid != getpid(),
                let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline")
            else { return nil }
            let text = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return text.contains(marker) ? pid : nil
        }
    }

    /// berth's cgroup directories (named `<berth pid>-<container id>`) that `pid` made.
    static func cgroups(ownedBy pid: pid_t) -> [String] {
        var parents = ["/sys/fs/cgroup/berth", "/sys/fs/cgroup/unified/berth"]
        for controller in ["memory", "cpu", "pids", "devices", "freezer"] {
            parents.append("/sys/fs/cgroup/\(controller)/berth")
        }
        return parents.flatMap { parent in
            ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [])
                .filter { $0.hasPrefix("\(pid)-") }.map { parent + "/" + $0 }
        }
    }

    /// Entries of a directory (empty when it does not exist).
    static func entries(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    /// Sleeps `seconds`.
    static func sleep(_ seconds: Double) {
        if seconds > 0 { usleep(useconds_t(seconds * 1_000_000)) }
    }

    /// Seconds since an arbitrary start (monotonic).
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Writes `size` bytes of pseudo-random data (reproducible from `seed`) to `path`.
    static func writeRandomFile(_ path: String, size: Int, seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        var data = Data(count: size)
        data.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for index in words.indices { words[index] = generator.next() }
        }
        try data.write(to: URL(fileURLWithPath: path))
    }
}

/// SplitMix64: a small generator that replays from its seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension BerthHarness {
    /// The directory given to berth as TMPDIR: it must stay empty.
    var scratch: String { work + "/tmpdir" }

    /// Environment for berth processes: TMPDIR under the test, so leftovers there are seen.
    var environment: [String: String] {
        try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        return ["TMPDIR": scratch]
    }

    /// Starts `berth --root <store> args…` in the background, collecting its output.
    func spawn(_ args: [String]) throws -> Spawned {
        try Spawned(BerthHarness.binary, ["--root", root] + args, environment: environment, captureOutput: true)
    }

    /// `berth system check`: nil when clean, else its report.
    func checkProblems() throws -> String? {
        let check = try berth(["system", "check"], environment: environment)
        return check.status == 0 ? nil : "status \(check.status): \(check.stdout)\(check.stderr)"
    }

    /// Every tag and the image id it names.
    func tags() throws -> [(tag: String, id: String)] {
        let result = try berth(["images", "--format", "json", "--no-trunc"], environment: environment)
        var tags: [(String, String)] = []
        for line in result.stdout.split(separator: "\n") {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
                let repository = object["Repository"], repository != "<none>"
            else { continue }
            tags.append(("\(repository):\(object["Tag"] ?? "latest")", object["ID"] ?? ""))
        }
        return tags
    }

    /// Problems with the tags: each must inspect, and (with `run`) each must start a container.
    /// `verified` (tag → id) skips the run of a tag that already ran with the same image, while
    /// `system check` stays clean (it verifies every blob and snapshot in between).
    func brokenTags(run: Bool, verified: inout [String: String]) throws -> [String] {
        var broken: [String] = []
        let tags = try tags()
        if tags.isEmpty { return [] }
        // One inspect of every tag; then each must name its own id.
        let all = try berth(["inspect", "--type", "image"] + tags.map(\.tag), environment: environment)
        let inspected = (try? JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [[String: Any]]) ?? []
        let ids = Set(inspected.compactMap { $0["Id"] as? String })
        if all.status != 0 { broken.append("inspect: \(all.status) \(all.stderr)") }
        for (tag, id) in tags {
            if !ids.contains(where: { $0.hasSuffix(id) || id.hasSuffix($0) }) {
                broken.append("inspect \(tag): no image \(id)")
                continue
            }
            if run && verified[tag] != id {
                let started = try berth(["run", "--rm", "--entrypoint", "true", tag], environment: environment)
                if started.status != 0 {
                    broken.append("run \(tag): \(started.status) \(started.stderr)")
                } else {
                    verified[tag] = id
                }
            }
        }
        return broken
    }

    func brokenTags(run: Bool) throws -> [String] {
        var verified: [String: String] = [:]
        return try brokenTags(run: run, verified: &verified)
    }
}
