import CRuntimeShim
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One container start: builds the shim's configuration in C memory, clones, releases the
/// child, collects its output and waits for it.
struct Launch {
    let spec: ContainerSpec
    let env: [String]
    let searchPath: String
    let user: ResolvedUser
    let mounts: [DefaultMounts.Entry]
    let capabilities: UInt64
    /// Compiled BPF (struct sock_filter array), nil for unconfined.
    let seccomp: [UInt8]?
    let id: String
    /// exec: the init process of the running container to join; nil starts a new container.
    var join: pid_t? = nil
    /// Called with the process's pid (in berth's pid namespace) once it has exec'd.
    var onStart: (@Sendable (pid_t) -> Void)? = nil

    /// The pid of the running container, for the cancellation handler (-1: cancelled before it existed).
    private final class Child: Sendable {
        let pid = Mutex<pid_t>(0)
    }

    func run(io: ProcessIO) async throws(RuntimeError) -> ExitStatus {
        let child = Child()
        let result: Result<ExitStatus, RuntimeError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Everything that blocks (clone, reading the error pipe, waitpid) runs on its own
                // thread, off the cooperative pool.
                let thread = Thread {
                    continuation.resume(returning: self.spawnAndWait(io: io, child: child))
                }
                thread.stackSize = 1 << 20
                thread.start()
            }
        } onCancel: {
            child.pid.withLock { pid in
                // Before the clone: mark it, so the child is killed as soon as it exists.
                if pid > 0 { kill(pid, SIGKILL) } else if pid == 0 { pid = -1 }
            }
        }
        if Task.isCancelled, case .success = result { throw .cancelled }
        return try result.get()
    }

    private func spawnAndWait(io: ProcessIO, child: Child) -> Result<ExitStatus, RuntimeError> {
        let arena = CArena()
        var sync: [Int32] = [-1, -1]
        var errors: [Int32] = [-1, -1]
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        var devNull: Int32 = -1
        defer {
            for fd in sync + errors + out + err + [devNull] where fd >= 0 { close(fd) }
        }
        guard berth_pipe(&sync) == 0, berth_pipe(&errors) == 0 else {
            return .failure(.system(operation: "pipe", errno: errno))
        }
        var config = berth_spawn_config()
        config.stdin_fd = -1
        config.stdout_fd = -1
        config.stderr_fd = -1
        switch io {
        case .capture:
            guard berth_pipe(&out) == 0, berth_pipe(&err) == 0 else {
                return .failure(.system(operation: "pipe", errno: errno))
            }
            devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
            config.stdin_fd = devNull
            config.stdout_fd = out[1]
            config.stderr_fd = err[1]
        case .descriptors(let stdin, let stdout, let stderr):
            config.stdin_fd = stdin
            config.stdout_fd = stdout
            config.stderr_fd = stderr
        case .inherit:
            break
        }
        config.terminal = spec.process.terminal ? 1 : 0
        config.run_init = spec.runInit && join == nil ? 1 : 0
        let limits = spec.process.rlimits.compactMap { limit in
            ResourceLimit.resources[limit.name].map { berth_rlimit(resource: $0, soft: limit.soft, hard: limit.hard) }
        }
        config.rlimits = arena.array(limits)
        config.rlimit_count = Int32(limits.count)
        config.report_fd = -1
        // The cgroup namespace is entered by the child after it joined its cgroup (see the shim).
        var flags = BERTH_CLONE_NEWNS | BERTH_CLONE_NEWPID | BERTH_CLONE_NEWUTS | BERTH_CLONE_NEWIPC
        if spec.network == .none { flags |= BERTH_CLONE_NEWNET }
        var ready: [Int32] = [-1, -1]
        defer { for fd in ready where fd >= 0 { close(fd) } }
        config.userns_ready_fd = -1
        if spec.userNamespace != nil && join == nil {
            guard berth_pipe(&ready) == 0 else { return .failure(.system(operation: "pipe", errno: errno)) }
            config.user_namespace = 1
            config.userns_ready_fd = ready[1]
        }
        config.root = arena.string(spec.rootPath)
        config.clone_flags = Int32(flags)
        config.hostname = arena.string(spec.hostname)
        let table = mounts.map { entry in
            berth_mount(
                source: arena.string(entry.source), target: arena.string(entry.target),
                fstype: arena.optionalString(entry.fstype), data: arena.optionalString(entry.data),
                flags: entry.flags, kind: Int32(entry.kind.rawValue), create_directory: entry.createDirectory ? 1 : 0)
        }
        config.mounts = arena.array(table)
        config.mount_count = Int32(table.count)
        let devices = DefaultMounts.devices.map { device in
            berth_device(
                name: arena.string(device.name), link: arena.optionalString(device.link), mode: device.mode,
                major: device.major, minor: device.minor)
        }
        config.devices = arena.array(devices)
        config.device_count = Int32(devices.count)
        config.cwd = arena.string(spec.process.cwd)
        config.argv = arena.stringArray(spec.process.args)
        config.envp = arena.stringArray(env)
        config.search_path = arena.string(searchPath)
        config.uid = user.uid
        config.gid = user.gid
        config.groups = arena.array(user.additionalGroups)
        config.group_count = Int32(user.additionalGroups.count)
        config.cap_bounding = capabilities
        config.cap_effective = capabilities
        config.cap_permitted = capabilities
        config.no_new_privileges = spec.noNewPrivileges ? 1 : 0
        if let seccomp {
            config.seccomp_filter = arena.bytes(seccomp)
            config.seccomp_length = UInt16(seccomp.count / 8)
        }
        config.readonly_root = spec.readonlyRoot ? 1 : 0
        config.loopback_up = spec.network == .none ? 1 : 0
        config.cgroup_namespace = 1
        config.sync_fd = sync[0]
        config.error_fd = errors[1]

        if let join {
            return spawnInto(
                join, config: &config, sync: &sync, errors: &errors, io: io, out: &out, err: &err, child: child)
        }
        let cgroup: Cgroup
        do {
            cgroup = try Cgroup(id: id, limits: spec.resources)
        } catch {
            return .failure(error)
        }
        defer { cgroup.remove() }
        var pid: pid_t = -1
        var clonedInto: String?
        if let unified = cgroup.unifiedDirectory {
            let directory = open(unified, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if directory >= 0 {
                pid = withUnsafePointer(to: &config) { berth_spawn_in_cgroup($0, directory) }
                let code = errno
                close(directory)
                if pid > 0 {
                    clonedInto = unified
                } else if code != ENOSYS && code != E2BIG {
                    return .failure(.system(operation: "clone into \(unified)", errno: code))
                }
            }
        }
        if pid <= 0 { pid = withUnsafePointer(to: &config) { berth_spawn($0) } }
        guard pid > 0 else { return .failure(.system(operation: "clone", errno: errno)) }
        // A cancellation that came before the clone (a failing stage cancels the others) kills it now.
        let cancelledEarly = child.pid.withLock { current in
            defer { current = pid }
            return current == -1
        }
        if cancelledEarly { kill(pid, SIGKILL) }
        do {
            try cgroup.add(pid, except: clonedInto)
        } catch {
            kill(pid, SIGKILL)
            var ignored: Int32 = 0
            waitpid(pid, &ignored, 0)
            child.pid.withLock { $0 = 0 }
            return .failure(error)
        }
        // The parent keeps only its ends.
        for index in [0] {
            close(sync[index])
            sync[index] = -1
        }
        close(errors[1])
        errors[1] = -1
        if out[1] >= 0 {
            close(out[1])
            out[1] = -1
        }
        if err[1] >= 0 {
            close(err[1])
            err[1] = -1
        }

        let failure: RuntimeError?
        if config.user_namespace != 0 {
            close(ready[1])
            ready[1] = -1
            failure = releaseIntoUserNamespace(pid, sync: &sync, ready: ready[0], errors: errors[0])
        } else {
            failure = Self.release(sync: &sync, errors: errors[0])
        }

        let group = startReaders(io: io, out: out[0], err: err[0])
        if failure == nil { onStart?(pid) }
        return wait(pid, failure: failure, child: child, readers: group)
    }

    /// Releases a child that enters a user namespace after its mounts: waits until it has,
    /// writes the namespace's id maps, then lets it go on to exec.
    private func releaseIntoUserNamespace(
        _ pid: pid_t, sync: inout [Int32], ready: Int32, errors: Int32
    ) -> RuntimeError? {
        var go: UInt8 = 1
        _ = write(sync[1], &go, 1)
        var byte: UInt8 = 0
        guard read(ready, &byte, 1) == 1 else {
            // The child gave up before: its record is on the error pipe.
            close(sync[1])
            sync[1] = -1
            return Self.readFailure(errors)
                ?? .setup(step: "user namespace", detail: "the container exited", errno: ECHILD)
        }
        do {
            try writeIDMappings(pid)
        } catch {
            kill(pid, SIGKILL)
            close(sync[1])
            sync[1] = -1
            return error
        }
        return Self.release(sync: &sync, errors: errors)
    }

    /// The user namespace's uid and gid maps, written while the child waits on the sync pipe
    /// (before that it is nobody in its namespace and can do nothing there).
    private func writeIDMappings(_ pid: pid_t) throws(RuntimeError) {
        guard let namespace = spec.userNamespace else { return }
        for (file, mappings) in [("uid_map", namespace.uidMappings), ("gid_map", namespace.gidMappings)] {
            let path = "/proc/\(pid)/\(file)"
            if let code = Cgroup.write(path, mappings.map(\.line).joined()) {
                throw .system(operation: "write \(path)", errno: code)
            }
        }
    }

    /// Collects the process's end, after its output readers finished.
    private func wait(
        _ pid: pid_t, failure: RuntimeError?, child: Child, readers group: DispatchGroup
    ) -> Result<ExitStatus, RuntimeError> {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        child.pid.withLock { $0 = 0 }
        group.wait()
        if let failure { return .failure(failure) }
        let code = status & 0x7f
        if code == 0 { return .success(.exited((status >> 8) & 0xff)) }
        return .success(.signaled(code))
    }

    /// Starts `output` readers for captured streams.
    private func startReaders(io: ProcessIO, out: Int32, err: Int32) -> DispatchGroup {
        let group = DispatchGroup()
        guard case .capture(let deliver) = io else { return group }
        for (fd, stream) in [(out, OutputStream.stdout), (err, OutputStream.stderr)] {
            group.enter()
            let reader = Thread {
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if count < 0 && errno == EINTR { continue }
                    if count <= 0 { break }
                    deliver(stream, Array(buffer[0..<count]))
                }
                group.leave()
            }
            reader.start()
        }
        return group
    }

    /// exec: joins the namespaces and cgroups of the running container whose init is `target`.
    private func spawnInto(
        _ target: pid_t, config: inout berth_spawn_config, sync: inout [Int32], errors: inout [Int32], io: ProcessIO,
        out: inout [Int32], err: inout [Int32], child: Child
    ) -> Result<ExitStatus, RuntimeError> {
        var namespaces: [Int32] = []
        defer { for fd in namespaces { close(fd) } }
        // The mount namespace last: after it, /proc paths of the host are no longer reachable.
        // The user namespace last: the others belong to the host's, whose privileges joining
        // them needs (the container entered its user namespace after its mounts).
        let names = ["ipc", "uts", "net", "pid", "cgroup", "mnt"] + (spec.userNamespace != nil ? ["user"] : [])
        for name in names {
            let fd = open("/proc/\(target)/ns/\(name)", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return .failure(.system(operation: "open /proc/\(target)/ns/\(name)", errno: errno)) }
            namespaces.append(fd)
        }
        let cgroupPaths = Cgroup.paths(of: target)
        var report: [Int32] = [-1, -1]
        guard berth_pipe(&report) == 0 else { return .failure(.system(operation: "pipe", errno: errno)) }
        defer { for fd in report where fd >= 0 { close(fd) } }
        config.report_fd = report[1]
        let intermediate = namespaces.withUnsafeBufferPointer { buffer -> pid_t in
            config.join_namespaces = buffer.baseAddress
            config.join_count = Int32(buffer.count)
            return withUnsafePointer(to: &config) { berth_spawn_into($0) }
        }
        guard intermediate > 0 else { return .failure(.system(operation: "clone", errno: errno)) }
        var status: Int32 = 0
        while waitpid(intermediate, &status, 0) < 0 && errno == EINTR {}
        close(report[1])
        report[1] = -1
        var pid: pid_t = 0
        let got = withUnsafeMutableBytes(of: &pid) { read(report[0], $0.baseAddress, $0.count) }
        close(sync[0])
        sync[0] = -1
        close(errors[1])
        errors[1] = -1
        for index in [1] where out[index] >= 0 || err[index] >= 0 {
            if out[index] >= 0 { close(out[index]) }
            if err[index] >= 0 { close(err[index]) }
            out[index] = -1
            err[index] = -1
        }
        guard got == MemoryLayout<pid_t>.size, pid > 0 else {
            if let failure = Self.readFailure(errors[0]) { return .failure(failure) }
            return .failure(.setup(step: "join container", detail: "the container is not running", errno: ESRCH))
        }
        // A cancellation that came before the clone (a failing stage cancels the others) kills it now.
        let cancelledEarly = child.pid.withLock { current in
            defer { current = pid }
            return current == -1
        }
        if cancelledEarly { kill(pid, SIGKILL) }
        for path in cgroupPaths {
            let fd = open(path + "/cgroup.procs", O_WRONLY | O_CLOEXEC)
            if fd >= 0 {
                let text = Array("\(pid)\n".utf8)
                _ = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
        }
        let failure = Self.release(sync: &sync, errors: errors[0])
        let group = startReaders(io: io, out: out[0], err: err[0])
        if failure == nil { onStart?(pid) }
        return wait(pid, failure: failure, child: child, readers: group)
    }

    /// Lets the waiting child go on (one byte on the sync pipe) and reads how it ended its
    /// set-up: EOF on the error pipe means exec succeeded, a record means the child gave up.
    static func release(sync: inout [Int32], errors: Int32) -> RuntimeError? {
        var go: UInt8 = 1
        _ = write(sync[1], &go, 1)
        close(sync[1])
        sync[1] = -1
        return readFailure(errors)
    }

    /// The child's failure record from the error pipe, or nil at EOF (it reached exec).
    static func readFailure(_ errors: Int32) -> RuntimeError? {
        var record = berth_child_error()
        let n = withUnsafeMutableBytes(of: &record) { read(errors, $0.baseAddress, $0.count) }
        return n == MemoryLayout<berth_child_error>.size ? error(from: record) : nil
    }

    static func error(from record: berth_child_error) -> RuntimeError {
        let detail = withUnsafeBytes(of: record.detail) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch Int(record.step) {
        case Int(BERTH_STEP_EXEC_NOT_FOUND.rawValue): return .commandNotFound(detail)
        case Int(BERTH_STEP_EXEC_DENIED.rawValue): return .notExecutable(detail)
        default:
            let names: [Int: String] = [
                1: "sync", 2: "hostname", 3: "mount propagation", 4: "root", 5: "mount", 6: "device",
                7: "pivot_root", 8: "network", 9: "seccomp", 10: "capabilities", 11: "user", 12: "working directory",
                15: "exec", 16: "standard streams",
            ]
            return .setup(step: names[Int(record.step)] ?? "step \(record.step)", detail: detail, errno: record.error)
        }
    }
}
