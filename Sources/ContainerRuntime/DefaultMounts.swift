import CRuntimeShim

#if canImport(Glibc)
    import Glibc
#endif

/// docker's default mounts, devices, masked and read-only paths
/// (../shared/reference/runtime-defaults.md), as entries of the shim's table.
enum DefaultMounts {
    struct Entry {
        var source: String
        var target: String  // relative to the root
        var fstype: String?
        var data: String?
        var flags: UInt
        var kind: berth_mount_kind
        var createDirectory = false
    }

    static let nosuidNoexecNodev = UInt(MS_NOSUID | MS_NOEXEC | MS_NODEV)

    /// Mount points that must exist in the root file system (the rest live inside /dev's tmpfs).
    static let directoryTargets = ["proc", "dev", "sys"]

    static func base(cgroupNamespace: Bool) -> [Entry] {
        var entries = [
            Entry(
                source: "proc", target: "proc", fstype: "proc", data: nil, flags: nosuidNoexecNodev,
                kind: BERTH_MOUNT_PLAIN),
            Entry(
                source: "tmpfs", target: "dev", fstype: "tmpfs", data: "mode=755,size=65536k",
                flags: UInt(MS_NOSUID | MS_STRICTATIME), kind: BERTH_MOUNT_PLAIN),
            Entry(
                source: "devpts", target: "dev/pts", fstype: "devpts",
                data: "newinstance,ptmxmode=0666,mode=0620,gid=5", flags: UInt(MS_NOSUID | MS_NOEXEC),
                kind: BERTH_MOUNT_PLAIN, createDirectory: true),
            Entry(
                source: "sysfs", target: "sys", fstype: "sysfs", data: nil, flags: nosuidNoexecNodev | UInt(MS_RDONLY),
                kind: BERTH_MOUNT_PLAIN),
        ]
        if cgroupNamespace {
            entries.append(
                Entry(
                    source: "cgroup", target: "sys/fs/cgroup", fstype: "cgroup2", data: nil,
                    flags: nosuidNoexecNodev | UInt(MS_RDONLY), kind: BERTH_MOUNT_PLAIN))
        }
        entries += [
            Entry(
                source: "mqueue", target: "dev/mqueue", fstype: "mqueue", data: nil, flags: nosuidNoexecNodev,
                kind: BERTH_MOUNT_PLAIN, createDirectory: true),
            Entry(
                source: "shm", target: "dev/shm", fstype: "tmpfs", data: "mode=1777,size=65536k",
                flags: nosuidNoexecNodev, kind: BERTH_MOUNT_PLAIN, createDirectory: true),
        ]
        return entries
    }

    static let maskedPaths = [
        "proc/acpi", "proc/asound", "proc/interrupts", "proc/kcore", "proc/keys", "proc/latency_stats",
        "proc/sched_debug", "proc/scsi", "proc/timer_list", "proc/timer_stats", "sys/devices/virtual/powercap",
        "sys/firmware",
    ]

    static let readonlyPaths = ["proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger"]

    /// `/sys/devices/system/cpu/cpu*/thermal_throttle` as found on this machine.
    static func thermalThrottlePaths() -> [String] {
        guard let dir = opendir("/sys/devices/system/cpu") else { return [] }
        defer { closedir(dir) }
        var paths: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasPrefix("cpu"), name.dropFirst(3).allSatisfy(\.isNumber), name.count > 3 else { continue }
            let path = "sys/devices/system/cpu/\(name)/thermal_throttle"
            if access("/" + path, F_OK) == 0 { paths.append(path) }
        }
        return paths.sorted()
    }

    struct Device {
        var name: String
        var link: String?
        var mode: UInt32
        var major: UInt32
        var minor: UInt32
    }

    static let devices: [Device] = [
        Device(name: "null", mode: UInt32(S_IFCHR) | 0o666, major: 1, minor: 3),
        Device(name: "zero", mode: UInt32(S_IFCHR) | 0o666, major: 1, minor: 5),
        Device(name: "full", mode: UInt32(S_IFCHR) | 0o666, major: 1, minor: 7),
        Device(name: "random", mode: UInt32(S_IFCHR) | 0o666, major: 1, minor: 8),
        Device(name: "urandom", mode: UInt32(S_IFCHR) | 0o666, major: 1, minor: 9),
        Device(name: "tty", mode: UInt32(S_IFCHR) | 0o666, major: 5, minor: 0),
        Device(name: "fd", link: "/proc/self/fd", mode: 0, major: 0, minor: 0),
        Device(name: "stdin", link: "/proc/self/fd/0", mode: 0, major: 0, minor: 0),
        Device(name: "stdout", link: "/proc/self/fd/1", mode: 0, major: 0, minor: 0),
        Device(name: "stderr", link: "/proc/self/fd/2", mode: 0, major: 0, minor: 0),
        Device(name: "core", link: "/proc/kcore", mode: 0, major: 0, minor: 0),
        Device(name: "ptmx", link: "pts/ptmx", mode: 0, major: 0, minor: 0),
    ]
}
