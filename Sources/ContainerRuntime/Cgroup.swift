import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Resource limits of a container (docker's `--memory`, `--cpus`, `--cpu-shares`, `--pids-limit`).
public struct ResourceLimits: Codable, Sendable, Equatable {
    public var memoryBytes: Int64?
    /// CPU time per period, in microseconds (`--cpus 1.5` is 150000 of 100000).
    public var cpuQuota: Int64?
    public var cpuPeriod: Int64?
    /// Relative weight, docker's `--cpu-shares` scale (1024 is the default).
    public var cpuShares: Int64?
    public var pidsLimit: Int64?

    public init(
        memoryBytes: Int64? = nil, cpuQuota: Int64? = nil, cpuPeriod: Int64? = nil, cpuShares: Int64? = nil,
        pidsLimit: Int64? = nil
    ) {
        self.memoryBytes = memoryBytes
        self.cpuQuota = cpuQuota
        self.cpuPeriod = cpuPeriod
        self.cpuShares = cpuShares
        self.pidsLimit = pidsLimit
    }
}

/// The cgroup layout of this machine.
enum CgroupLayout: Equatable {
    /// Only the unified hierarchy, mounted at `root` (normally /sys/fs/cgroup).
    case v2(root: String)
    /// Per-controller v1 hierarchies; `unified` is the v2 hierarchy mounted beside them (the
    /// hybrid layout crun refuses), or nil on pure v1.
    case v1(unified: String?)

    /// This machine's layout. `BERTH_CGROUP_V2_ROOT=DIR` makes berth use only the v2 hierarchy
    /// mounted at DIR, as on a pure cgroup v2 host: the tests use it to run the v2 code paths
    /// (device filter, clone into the cgroup) on a hybrid host's unified hierarchy.
    /// Read once per process (mountinfo is parsed only the first time).
    static var current: CgroupLayout { detected }

    private static let detected: CgroupLayout = {
        if let root = getenv("BERTH_CGROUP_V2_ROOT").map({ String(cString: $0) }), !root.isEmpty {
            return .v2(root: root)
        }
        return detect()
    }()

    static func detect(mountinfo: String = Cgroup.readText("/proc/self/mountinfo") ?? "") -> CgroupLayout {
        var unified: String?
        var hasV1 = false
        for line in mountinfo.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, fields.count > 4 else { continue }
            let mountPoint = String(fields[4])
            switch fields[dash + 1] {
            case "cgroup2": if mountPoint.hasPrefix("/sys/fs/cgroup") { unified = mountPoint }
            case "cgroup": if mountPoint.hasPrefix("/sys/fs/cgroup/") { hasV1 = true }
            default: break
            }
        }
        if !hasV1 && unified == "/sys/fs/cgroup" { return .v2(root: "/sys/fs/cgroup") }
        return .v1(unified: unified)
    }
}

/// One container's cgroup in every hierarchy berth uses, removed (after killing what is left
/// in it) when the container is done.
final class Cgroup {
    static let v1Controllers = ["memory", "cpu", "pids", "devices", "freezer"]

    let layout: CgroupLayout
    /// The directories of this cgroup, one per hierarchy.
    private(set) var directories: [String] = []
    /// The directory on the unified (v2) hierarchy, if any: a new process can be cloned
    /// straight into it (CLONE_INTO_CGROUP) instead of being moved there.
    private(set) var unifiedDirectory: String?

    /// The cgroup's directory name: the owning berth's pid first, so a stale one can be told
    /// from one another berth process is still setting up.
    let name: String

    init(id: String, limits: ResourceLimits, layout: CgroupLayout = .current) throws(RuntimeError) {
        self.layout = layout
        let name = "\(getpid())-\(id)"
        self.name = name
        do {
            switch layout {
            case .v2(let root):
                let parent = root + "/berth"
                try Self.makeDirectory(parent)
                // Delegate the controllers berth sets to its subtree (errors: not enabled above us).
                Self.write(parent + "/cgroup.subtree_control", "+memory +pids +cpu")
                let dir = parent + "/" + name
                try Self.makeDirectory(dir)
                directories.append(dir)
                unifiedDirectory = dir
                // No devices.allow on the unified hierarchy: the allow-list is a BPF program.
                try DeviceFilter(rules: Self.deviceRules).attach(to: dir)
                if let memory = limits.memoryBytes {
                    try Self.set(dir, "memory.max", String(memory))
                    Self.write(dir + "/memory.swap.max", "0")
                }
                if let pids = limits.pidsLimit { try Self.set(dir, "pids.max", pids > 0 ? String(pids) : "max") }
                if let quota = limits.cpuQuota {
                    try Self.set(dir, "cpu.max", "\(quota) \(limits.cpuPeriod ?? 100_000)")
                }
                if let shares = limits.cpuShares {
                    // docker's conversion of shares (2..262144) to weight (1..10000).
                    let weight = 1 + ((max(2, min(shares, 262_144)) - 2) * 9999) / 262_142
                    try Self.set(dir, "cpu.weight", String(weight))
                }
            case .v1(let unified):
                for controller in Self.v1Controllers {
                    let root = "/sys/fs/cgroup/" + controller
                    guard access(root + "/cgroup.procs", F_OK) == 0 else { continue }
                    try Self.makeDirectory(root + "/berth")
                    let dir = root + "/berth/" + name
                    try Self.makeDirectory(dir)
                    directories.append(dir)
                    switch controller {
                    case "memory":
                        if let memory = limits.memoryBytes {
                            try Self.set(dir, "memory.limit_in_bytes", String(memory))
                            // No swap either, when swap accounting exists.
                            Self.write(dir + "/memory.memsw.limit_in_bytes", String(memory))
                        }
                    case "pids":
                        if let pids = limits.pidsLimit {
                            try Self.set(dir, "pids.max", pids > 0 ? String(pids) : "max")
                        }
                    case "cpu":
                        if let quota = limits.cpuQuota {
                            try Self.set(dir, "cpu.cfs_period_us", String(limits.cpuPeriod ?? 100_000))
                            try Self.set(dir, "cpu.cfs_quota_us", String(quota))
                        }
                        if let shares = limits.cpuShares { try Self.set(dir, "cpu.shares", String(shares)) }
                    case "devices":
                        try Self.set(dir, "devices.deny", "a")
                        for rule in Self.allowedDevices { try Self.set(dir, "devices.allow", rule) }
                    default:
                        break
                    }
                }
                if let unified {
                    let parent = unified + "/berth"
                    try Self.makeDirectory(parent)
                    let dir = parent + "/" + name
                    try Self.makeDirectory(dir)
                    directories.append(dir)
                    unifiedDirectory = dir
                }
            }
        } catch {
            remove()
            throw error
        }
    }

    /// docker's default device allow-list: every node may be created, only these opened.
    static let allowedDevices = [
        "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
        "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
    ]

    /// docker's default device rules: everything denied, then the allow-list.
    static let deviceRules =
        [DeviceRule(kind: .all, major: nil, minor: nil, access: "rwm", allow: false)]
        + allowedDevices.compactMap { DeviceRule(parsing: $0) }

    /// Moves `pid` into every directory of this cgroup (but `except`, the one it was cloned into).
    func add(_ pid: pid_t, except: String? = nil) throws(RuntimeError) {
        for dir in directories where dir != except {
            try Self.set(dir, "cgroup.procs", String(pid))
        }
    }

    /// Kills whatever is still in the cgroup and removes its directories.
    func remove() {
        for _ in 0..<50 {
            var remaining = false
            for dir in directories {
                let procs = Self.readText(dir + "/cgroup.procs") ?? ""
                for pid in procs.split(separator: "\n").compactMap({ pid_t($0) }) {
                    kill(pid, SIGKILL)
                    remaining = true
                }
            }
            if !remaining { break }
            usleep(2000)
        }
        for dir in directories.reversed() {
            var tries = 0
            while rmdir(dir) != 0 && errno == EBUSY && tries < 100 {
                usleep(2000)
                tries += 1
            }
        }
        directories.removeAll()
    }

    /// Cgroups under `berth/` whose berth process is gone (a berth killed with SIGKILL cannot
    /// clean up after itself): what is left in them is killed and they are removed.
    static func removeStale(layout: CgroupLayout = .current) {
        var parents: [String] = []
        switch layout {
        case .v2(let root): parents = [root + "/berth"]
        case .v1(let unified):
            parents = v1Controllers.map { "/sys/fs/cgroup/\($0)/berth" } + (unified.map { [$0 + "/berth"] } ?? [])
        }
        for parent in parents {
            for child in listDirectory(parent) {
                guard let owner = child.split(separator: "-").first.flatMap({ pid_t($0) }),
                    kill(owner, 0) != 0 && errno == ESRCH
                else { continue }
                let dir = parent + "/" + child
                let procs = readText(dir + "/cgroup.procs") ?? ""
                for pid in procs.split(separator: "\n").compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
                for _ in 0..<50 where rmdir(dir) != 0 && errno == EBUSY { usleep(2000) }
            }
        }
    }

    /// A small file's text (control files, /proc), read with plain system calls: Foundation's
    /// readers cost protocol conformance look-ups on every start of berth.
    static func readText(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The names in a directory (no `.` and `..`); empty when it cannot be read.
    static func listDirectory(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func makeDirectory(_ path: String) throws(RuntimeError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw .system(operation: "create cgroup \(path)", errno: errno)
        }
    }

    static func set(_ dir: String, _ file: String, _ value: String) throws(RuntimeError) {
        if let code = write(dir + "/" + file, value) {
            throw .system(operation: "write '\(value)' to \(dir)/\(file)", errno: code)
        }
    }

    /// Writes a control file; returns errno on failure.
    @discardableResult
    static func write(_ path: String, _ value: String) -> Int32? {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        return n == bytes.count ? nil : errno
    }
}

extension Cgroup {
    /// The cgroup directories process `pid` belongs to, in every hierarchy berth uses (from
    /// /proc/PID/cgroup), for an exec'd process to join.
    static func paths(of pid: pid_t, layout: CgroupLayout = .current) -> [String] {
        guard let text = readText("/proc/\(pid)/cgroup") else { return [] }
        var result: [String] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty {
                switch layout {
                case .v2(let root): result.append(root + fields[2])
                case .v1(let unified): if let unified { result.append(unified + fields[2]) }
                }
            } else {
                for controller in fields[1].split(separator: ",") where v1Controllers.contains(String(controller)) {
                    result.append("/sys/fs/cgroup/\(controller)" + fields[2])
                }
            }
        }
        return Array(Set(result)).sorted()
    }
}
