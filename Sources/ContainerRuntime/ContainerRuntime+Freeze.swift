import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension ContainerSpec {
    /// Paths inside the container that are mount points (the default mounts, the bind-mounted
    /// /etc files and `mounts`' targets), relative, without a leading slash: whatever sits there
    /// in the upper directory is a stub, not a change, so `diff`, `commit` and `export` leave it
    /// out.
    public var mountPointPaths: Set<String> {
        Set(
            DefaultMounts.directoryTargets + ["etc/resolv.conf", "etc/hosts", "etc/hostname"]
                + mounts.map { String($0.target.drop { $0 == "/" }) })
    }
}

extension ContainerRuntime {
    /// Freezes (or thaws) every process of the container whose init is `pid`, through the
    /// cgroup freezer: v1's `freezer.state` where that controller is mounted, else v2's
    /// `cgroup.freeze`. Returns once the kernel reports the new state.
    public static func freeze(pid: pid_t, _ frozen: Bool) throws(RuntimeError) {
        let paths = Cgroup.paths(of: pid)
        if let v1 = paths.first(where: { $0.hasPrefix("/sys/fs/cgroup/freezer/") }) {
            try write(frozen ? "FROZEN" : "THAWED", to: v1 + "/freezer.state")
            try waitFor(v1 + "/freezer.state", frozen ? "FROZEN" : "THAWED")
            return
        }
        for path in paths where FileManager.default.fileExists(atPath: path + "/cgroup.freeze") {
            try write(frozen ? "1" : "0", to: path + "/cgroup.freeze")
            try waitFor(path + "/cgroup.events", frozen ? "frozen 1" : "frozen 0")
            return
        }
        throw .system(operation: "find the freezer cgroup of pid \(pid)", errno: ENOENT)
    }

    private static func write(_ value: String, to path: String) throws(RuntimeError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(operation: "open \(path)", errno: errno) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw .system(operation: "write \(path)", errno: errno)
        }
    }

    private static func waitFor(_ path: String, _ expected: String) throws(RuntimeError) {
        for _ in 0..<500 {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            if text.contains(expected) { return }
            usleep(2000)
        }
        throw .system(operation: "wait for \(path) to say \(expected)", errno: ETIMEDOUT)
    }
}
