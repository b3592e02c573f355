import CRuntimeShim
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// berth's runtime core: turns a ``ContainerSpec`` into a confined process.
///
/// Swift prepares everything (user lookup, mount table, capability masks, argv, env, state
/// files, mount-point stubs); the C shim clones into new mount, pid, uts, ipc, cgroup (and for
/// `.none` network) namespaces, sets the container up and execs. The command is pid 1 of its
/// pid namespace, so everything it started dies with it.
public struct ContainerRuntime: Sendable {
    /// Per-container state files (resolv.conf, hosts, hostname) live under here.
    public let stateDirectory: String

    public init(stateDirectory: String) {
        self.stateDirectory = stateDirectory
    }

    /// Removes empty container cgroups left by a berth that was killed before it could.
    public static func removeStaleCgroups() {
        Cgroup.removeStale()
    }

    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Runs the container to completion and returns how it ended. Cancelling the calling task
    /// kills the container and throws ``RuntimeError/cancelled`` once it is reaped.
    /// `onStart` gets the container's init pid (in berth's pid namespace) once it has exec'd.
    /// The bind-mounted hosts, hostname and resolv.conf are written to `stateIn` when given (an
    /// existing directory the caller owns, such as the container's own: only the three files are
    /// removed afterwards), else to a directory of their own under ``stateDirectory``.
    public func run(
        id: String, spec: ContainerSpec, io: ProcessIO, stateIn: String? = nil,
        onStart: (@Sendable (pid_t) -> Void)? = nil
    ) async throws(RuntimeError) -> ExitStatus {
        try spec.process.validate()
        let user = try UserResolver.resolve(spec.process.user, root: spec.rootPath)
        var env = spec.process.env
        if !env.contains(where: { $0.hasPrefix("PATH=") }) { env.insert("PATH=\(Self.defaultPath)", at: 0) }
        if !env.contains(where: { $0.hasPrefix("HOME=") }) { env.append("HOME=\(user.home)") }
        let searchPath = env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? Self.defaultPath

        // A directory of its own costs a block allocated and freed per container (on a file
        // system mounted with `discard`, a synchronous discard of several milliseconds).
        let state = stateIn ?? stateDirectory + "/" + id
        try Self.writeStateFiles(state, hostname: spec.hostname)
        defer {
            if stateIn == nil {
                Self.removeTree(state)
            } else {
                for name in Self.stateFiles { unlink(state + "/" + name) }
            }
        }

        let stubs = try MountPointStubs(root: spec.rootPath)
        defer { if spec.removeMountPointStubs { stubs.removeCreated() } }
        for target in DefaultMounts.directoryTargets { try stubs.ensure(target, directory: true) }
        var mounts = DefaultMounts.base(cgroupNamespace: true)
        for (file, name) in [("resolv.conf", "etc/resolv.conf"), ("hosts", "etc/hosts"), ("hostname", "etc/hostname")] {
            try stubs.ensure(name, directory: false)
            mounts.append(
                .init(
                    source: state + "/" + file, target: name, fstype: nil, data: nil, flags: UInt(MS_RDONLY),
                    kind: BERTH_MOUNT_BIND))
        }
        for mount in spec.mounts {
            let target = String(mount.target.drop { $0 == "/" })
            guard !target.isEmpty else { throw .invalidSpec("mount target '\(mount.target)' is the root") }
            switch mount.kind {
            case .bind:
                var st = stat()
                guard stat(mount.source, &st) == 0 else {
                    throw .system(operation: "bind source \(mount.source)", errno: errno)
                }
                try stubs.ensure(target, directory: (st.st_mode & S_IFMT) == S_IFDIR)
                mounts.append(
                    .init(
                        source: mount.source, target: target, fstype: nil, data: nil,
                        flags: mount.readOnly ? UInt(MS_RDONLY) : 0, kind: BERTH_MOUNT_BIND))
            case .tmpfs:
                try stubs.ensure(target, directory: true)
                mounts.append(
                    .init(
                        source: "tmpfs", target: target, fstype: "tmpfs",
                        data: mount.options.isEmpty ? nil : mount.options,
                        flags: UInt(MS_NOSUID | MS_NODEV) | (mount.readOnly ? UInt(MS_RDONLY) : 0),
                        kind: BERTH_MOUNT_PLAIN))
            }
        }
        for path in DefaultMounts.maskedPaths + DefaultMounts.thermalThrottlePaths() {
            mounts.append(.init(source: "", target: path, fstype: nil, data: nil, flags: 0, kind: BERTH_MOUNT_MASK))
        }
        for path in DefaultMounts.readonlyPaths {
            mounts.append(.init(source: "", target: path, fstype: nil, data: nil, flags: 0, kind: BERTH_MOUNT_READONLY))
        }
        // The working directory: created when missing, as docker does.
        try stubs.ensure(String(spec.process.cwd.drop { $0 == "/" }), directory: true)
        if spec.removeMountPointStubs {
            // Keep a created working directory: only mount points are stubs.
            stubs.forgetPath(String(spec.process.cwd.drop { $0 == "/" }))
        }

        let capabilities = try Capabilities.mask(spec.capabilities, last: Int(berth_last_capability()))
        let seccomp = try seccompProgram(spec.seccomp, capabilities: capabilities)
        let launch = Launch(
            spec: spec, env: env, searchPath: searchPath, user: user, mounts: mounts, capabilities: capabilities,
            seccomp: seccomp, id: id, onStart: onStart)
        return try await launch.run(io: io)
    }

    /// Runs `process` inside the running container whose init is `pid` (`exec`): it joins the
    /// container's namespaces and cgroups and is confined like the container (`spec`'s
    /// capabilities, seccomp profile and no_new_privs). Returns how it ended.
    public func exec(
        into pid: pid_t, spec: ContainerSpec, process: ProcessSpec, io: ProcessIO,
        onStart: (@Sendable (pid_t) -> Void)? = nil
    ) async throws(RuntimeError) -> ExitStatus {
        try process.validate()
        // The container's files, as its init sees them.
        let user = try UserResolver.resolve(process.user, root: "/proc/\(pid)/root")
        var env = process.env
        if !env.contains(where: { $0.hasPrefix("PATH=") }) { env.insert("PATH=\(Self.defaultPath)", at: 0) }
        if !env.contains(where: { $0.hasPrefix("HOME=") }) { env.append("HOME=\(user.home)") }
        let searchPath = env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? Self.defaultPath
        let capabilities = try Capabilities.mask(spec.capabilities, last: Int(berth_last_capability()))
        let seccomp = try seccompProgram(spec.seccomp, capabilities: capabilities)
        var execSpec = spec
        execSpec.process = process
        let launch = Launch(
            spec: execSpec, env: env, searchPath: searchPath, user: user, mounts: [], capabilities: capabilities,
            seccomp: seccomp, id: "exec", join: pid, onStart: onStart)
        return try await launch.run(io: io)
    }

    /// The compiled filter for `mode`, or nil for unconfined.
    func seccompProgram(_ mode: SeccompMode, capabilities: UInt64) throws(RuntimeError) -> [UInt8]? {
        let profile: () throws(RuntimeError) -> SeccompProfile
        let bytes: [UInt8]
        switch mode {
        case .unconfined:
            return nil
        case .dockerDefault:
            profile = { SeccompProfile.docker }
            bytes = Array(SeccompProfile.dockerDefaultJSON.utf8)
        case .profile(let path):
            let decoded = try SeccompProfile.load(path: path)
            profile = { decoded }
            bytes = Array(FileManager.default.contents(atPath: path) ?? Data())
        }
        let names = Set(
            Capabilities.names.compactMap { name, bit in
                capabilities & (UInt64(1) << UInt64(bit)) != 0 ? "CAP_" + name : nil
            })
        return try SeccompCompiler.program(
            profile, profileBytes: bytes, capabilities: names, cacheDirectory: stateDirectory + "/seccomp")
    }

    /// The files bind-mounted at /etc/resolv.conf, /etc/hosts and /etc/hostname.
    static let stateFiles = ["resolv.conf", "hosts", "hostname"]

    static func writeStateFiles(_ directory: String, hostname: String) throws(RuntimeError) {
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw .system(operation: "create \(directory)", errno: errno)
        }
        let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t\(hostname)\n"
        for (name, content) in zip(stateFiles, [resolvConf(), hosts, hostname + "\n"]) {
            let path = directory + "/" + name
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw .system(operation: "write \(path)", errno: errno) }
            _ = Array(content.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
    }

    /// The host's resolv.conf without loopback nameservers (they mean nothing inside a private
    /// network namespace), falling back to public resolvers as docker does.
    static func resolvConf() -> String {
        let host = Cgroup.readText("/etc/resolv.conf") ?? ""
        var lines = host.split(separator: "\n").map(String.init).filter { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.first == "nameserver", fields.count > 1 else { return true }
            return !(fields[1].hasPrefix("127.") || fields[1] == "::1")
        }
        if !lines.contains(where: { $0.hasPrefix("nameserver") }) {
            lines += ["nameserver 8.8.8.8", "nameserver 8.8.4.4"]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func removeTree(_ path: String) {
        // The state directory holds the three files writeStateFiles made: plain calls first.
        for name in stateFiles { unlink(path + "/" + name) }
        if rmdir(path) == 0 || errno == ENOENT { return }
        try? FileManager.default.removeItem(atPath: path)
    }
}
