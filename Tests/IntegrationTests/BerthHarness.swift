import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

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

    /// Runs any program and collects its output. (posix_spawn and waitpid directly: Foundation's
    /// Process can miss a child's exit when that child leaves a daemon behind, as `run -d` does.)
    static func run(_ program: String, _ args: [String], stdin: Data? = nil, environment: [String: String] = [:]) throws
        -> Result
    {
        let child = try Spawned(program, args, environment: environment, captureOutput: true)
        if let stdin { child.write(stdin) }
        child.closeInput()
        let status = child.wait()
        return Result(status: status, stdout: child.stdout, stderr: child.stderr)
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
            // (URL's parent, not NSString's: on Linux that splits by Character, and a name that
            // starts with a combining mark would lose its directory.)
            try FileManager.default.createDirectory(
                at: URL(fileURLWithPath: full).deletingLastPathComponent(), withIntermediateDirectories: true)
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

    /// The diff ids of image `tag` (`RootFS.Layers` of `berth inspect`), bottom first.
    func layers(of tag: String) throws -> [String] {
        let inspect = try berth(["inspect", tag])
        let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [[String: Any]]
        return ((json?.first?["RootFS"] as? [String: Any])?["Layers"] as? [String]) ?? []
    }

    /// The image id berth reports for `name`.
    func imageID(_ name: String) throws -> String {
        _ = try berth(["images", "-q", "--no-trunc"])  // sanity: the command works
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

/// A program started in the background with posix_spawn; `wait()` reaps it with waitpid.
final class Spawned: @unchecked Sendable {
    let pid: pid_t
    private var input: Int32 = -1
    private var outputs: [Int32] = []
    private var collected: [Data] = [Data(), Data()]
    private let group = DispatchGroup()
    private var status: Int32?

    init(_ program: String, _ args: [String], environment: [String: String] = [:], captureOutput: Bool = false) throws {
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var stdinPipe: [Int32] = [-1, -1]
        var pipes: [[Int32]] = []
        guard systemPipe2(&stdinPipe, O_CLOEXEC) == 0 else { throw POSIXError(.EMFILE) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        for target in [Int32(1), 2] {
            var fds: [Int32] = [-1, -1]
            if captureOutput {
                guard systemPipe2(&fds, O_CLOEXEC) == 0 else { throw POSIXError(.EMFILE) }
                posix_spawn_file_actions_adddup2(&actions, fds[1], target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            }
            pipes.append(fds)
        }
        // Nothing but 0-2 reaches the child: another test's file that is open for writing
        // (a binary being copied) would otherwise stay open in it and fail exec with ETXTBSY.
        _ = systemSpawnCloseFrom(&actions, 3)
        let argv: [UnsafeMutablePointer<CChar>?] = ([program] + args).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        // No blocked signals and default actions: the spawning thread may block some.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(0x08 | 0x04))  // SETSIGMASK | SETSIGDEF
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, program, &actions, &attributes, argv, envp)
        close(stdinPipe[0])
        for fds in pipes where fds[1] >= 0 { close(fds[1]) }
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        self.pid = pid
        input = stdinPipe[1]
        for (index, fds) in pipes.enumerated() where fds[0] >= 0 {
            outputs.append(fds[0])
            group.enter()
            let fd = fds[0]
            Thread {
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    self.append(index, Data(buffer[0..<n]))
                }
                self.group.leave()
            }.start()
        }
    }

    private let lock = NSLock()
    private func append(_ index: Int, _ data: Data) {
        lock.lock()
        collected[index] += data
        lock.unlock()
    }

    /// Output so far.
    var stdout: String { lock.withLock { String(decoding: collected[0], as: UTF8.self) } }
    var stderr: String { lock.withLock { String(decoding: collected[1], as: UTF8.self) } }

    func write(_ data: Data) {
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(input, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }

    func closeInput() {
        if input >= 0 { close(input) }
        input = -1
    }

    /// True until the process has exited (reaps it then).
    var isRunning: Bool {
        if status != nil { return false }
        var raw: Int32 = 0
        let rc = waitpid(pid, &raw, WNOHANG)
        if rc == pid {
            status = Self.decode(raw)
            return false
        }
        return true
    }

    /// Waits for the exit and the end of its output; returns the exit status (128+signal if killed).
    @discardableResult
    func wait() -> Int32 {
        closeInput()
        if status == nil {
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
            status = Self.decode(raw)
        }
        group.wait()
        for fd in outputs { close(fd) }
        outputs = []
        return status ?? -1
    }

    private static func decode(_ raw: Int32) -> Int32 {
        (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
    }
}

/// glibc's pipe2 (not exported by the Glibc module): close-on-exec from the start, so no
/// concurrently spawned process inherits a test's pipe.
@_silgen_name("pipe2")
func systemPipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32

/// glibc's posix_spawn_file_actions_addclosefrom_np (not exported by the Glibc module).
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
func systemSpawnCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32
