import Foundation
import Testing

/// Runs the real `berth` binary against a temporary store, as root.
struct BerthHarness {
    let root: String
    let work: String

    /// The package root (three levels above this file).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// The binary under test: $BERTH_BINARY, else .build/debug/berth.
    static var binary: String {
        ProcessInfo.processInfo.environment["BERTH_BINARY"] ?? packageRoot + "/.build/debug/berth"
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    init() throws {
        let base = NSTemporaryDirectory() + "berth-it-" + UUID().uuidString.prefix(8).lowercased()
        root = base + "/store"
        work = base + "/work"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    /// Removes the temporary store and work directories.
    func cleanup() {
        try? FileManager.default.removeItem(atPath: (root as NSString).deletingLastPathComponent)
    }

    /// Runs `berth --root <store> args…`.
    @discardableResult
    func berth(_ args: [String], stdin: Data? = nil, environment: [String: String] = [:]) throws -> Result {
        try Self.run(Self.binary, ["--root", root] + args, stdin: stdin, environment: environment)
    }

    /// Runs any program and collects its output.
    static func run(_ program: String, _ args: [String], stdin: Data? = nil, environment: [String: String] = [:]) throws
        -> Result
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        // Read both pipes concurrently so a chatty process never blocks.
        nonisolated(unsafe) var stderrData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            stderrData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self))
    }

    /// Imports the reproducible busybox base (Fixtures/base) as `name`.
    func importBase(_ name: String = "busybox-base") throws {
        let tar = work + "/base.tar"
        if !FileManager.default.fileExists(atPath: tar) {
            let made = try Self.run("/usr/bin/python3", [Self.packageRoot + "/Fixtures/base/make-rootfs.py", tar])
            #expect(made.status == 0, "make-rootfs: \(made.stderr)")
        }
        let result = try berth(["import", tar, name])
        #expect(result.status == 0, "import: \(result.stderr)")
    }

    /// Writes a build context with `files` (path → content) and returns its directory.
    func context(_ name: String, _ files: [String: String]) throws -> String {
        let dir = work + "/" + name
        for (path, content) in files {
            let full = dir + "/" + path
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try content.write(toFile: full, atomically: false, encoding: .utf8)
        }
        return dir
    }

    /// Mount points under this test's directories still present in the host's mount table.
    func leakedMounts() -> [String] {
        let base = (root as NSString).deletingLastPathComponent
        let table = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return table.split(separator: "\n").filter { $0.contains(base) }.map(String.init)
    }

    /// The image id berth reports for `name`.
    func imageID(_ name: String) throws -> String {
        try berth(["images", "-q", "--no-trunc"]).stdout  // sanity: command works
        let result = try berth(["images", "--format", "json", "--no-trunc"])
        for line in result.stdout.split(separator: "\n") {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String] else {
                continue
            }
            let reference = "\(object["Repository"] ?? ""):\(object["Tag"] ?? "")"
            if reference == name || object["Repository"] == name { return object["ID"] ?? "" }
        }
        return ""
    }

    /// True when a docker daemon answers (the interop tests skip, saying so, otherwise).
    static var dockerAvailable: Bool {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/docker"),
            let result = try? run("/usr/bin/docker", ["info", "--format", "{{.ServerVersion}}"])
        else { return false }
        return result.status == 0
    }
}
