import ArgumentParser
import BuildEngine
import CRuntimeShim
import ContainerRuntime
import Foundation
import ImageStore

#if canImport(Glibc)
    import Glibc
#endif

/// `berth container-monitor ID` (internal): runs a detached container. It owns the container's
/// output (into the log) or terminal, records its state and exit status, and reaps it; `run -d`
/// and `start` spawn it in its own session so it outlives them.
struct MonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "container-monitor", abstract: "Run a detached container (internal).", shouldDisplay: false)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("ready-fd"), help: "Descriptor to report start-up on.")
    var readyFD: Int32 = -1

    @Argument var id: String

    func run() async throws {
        signal(SIGHUP, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        let ready = readyFD
        do {
            let stores = try Stores(global)
            let manager = ContainerManager(store: stores.store, runtime: stores.runtime)
            let record = try await manager.container(id)
            let configuration = try ContainerConfiguration.decode(record.configJSON)
            let log = ContainerLog(directory: stores.store.containerDirectory(record.id))
            let streams = try ContainerStreams(
                terminal: configuration.spec.process.terminal, interactive: false, attached: false, log: log)
            _ = try await manager.run(record, io: streams.io) { _ in
                streams.started()
                Self.report(ready, "ok\n")
            }
            streams.finish()
        } catch {
            Self.report(ready, "\(error)\n")
            throw ExitCode(RunError.exitCode(for: error))
        }
    }

    /// Writes to the ready pipe once and closes it.
    static func report(_ fd: Int32, _ text: String) {
        guard fd >= 0, fcntl(fd, F_GETFD) >= 0 else { return }
        _ = FileSystem.writeAll(fd, Array(text.utf8))
        close(fd)
    }
}

/// Spawns the monitor of a detached container and waits until the container runs.
enum MonitorLauncher {
    static func start(id: String, root: String) throws {
        var ready: [Int32] = [-1, -1]
        guard berth_pipe(&ready) == 0 else { throw BerthError("pipe: \(String(cString: strerror(errno)))") }
        defer { close(ready[0]) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in Int32(0)...2 { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0) }
        posix_spawn_file_actions_adddup2(&actions, ready[1], 3)
        // Only the ready pipe beyond 0-2: nothing else berth has open outlives it in the monitor.
        _ = spawnCloseFrom(&actions, 4)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own session (POSIX_SPAWN_SETSID), no blocked signals and default actions
        // (SETSIGMASK, SETSIGDEF): the spawning thread may block some.
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(0x80 | 0x08 | 0x04))
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        let arguments = [executable, "--root", root, "container-monitor", "--ready-fd", "3", id]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, &argv, environ)
        close(ready[1])
        guard rc == 0 else { throw BerthError("cannot start the container monitor: \(String(cString: strerror(rc)))") }
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(ready[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            text += buffer[0..<n]
        }
        let message = String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard message == "ok" else {
            throw BerthError(message.isEmpty ? "the container monitor exited before the container started" : message)
        }
    }
}

/// glibc's posix_spawn_file_actions_addclosefrom_np (not exported by the Glibc module).
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func spawnCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32
