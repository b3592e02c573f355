/// What to run and how to confine it; close to the OCI runtime spec.
public struct ContainerSpec: Codable, Sendable {
    /// An already-mounted root file system (the snapshotter's overlay), or any directory.
    public var rootPath: String
    public var readonlyRoot: Bool
    public var process: ProcessSpec
    /// Hostname inside the container (`buildkitsandbox` for build steps).
    public var hostname: String
    public var network: NetworkMode
    /// Mounts added after the defaults.
    public var mounts: [MountSpec]
    public var capabilities: CapabilitySpec
    public var seccomp: SeccompMode
    public var noNewPrivileges: Bool
    public var resources: ResourceLimits
    /// Build steps: files and directories created only as mount points are removed after exit,
    /// so they never land in a layer.
    public var removeMountPointStubs: Bool
    /// `--init`: pid 1 is a minimal init that forwards signals to the command and reaps orphans.
    public var runInit: Bool = false
    /// A user namespace with these mappings; nil keeps the host's users (docker's default).
    public var userNamespace: UserNamespace? = nil

    public init(
        rootPath: String, readonlyRoot: Bool = false, process: ProcessSpec, hostname: String,
        network: NetworkMode = .host, mounts: [MountSpec] = [], capabilities: CapabilitySpec = .docker,
        seccomp: SeccompMode = .dockerDefault, noNewPrivileges: Bool = false, resources: ResourceLimits = .init(),
        removeMountPointStubs: Bool = false
    ) {
        self.rootPath = rootPath
        self.readonlyRoot = readonlyRoot
        self.process = process
        self.hostname = hostname
        self.network = network
        self.mounts = mounts
        self.capabilities = capabilities
        self.seccomp = seccomp
        self.noNewPrivileges = noNewPrivileges
        self.resources = resources
        self.removeMountPointStubs = removeMountPointStubs
    }
}

/// The process of a container.
public struct ProcessSpec: Codable, Sendable {
    public var args: [String]
    public var env: [String]
    public var cwd: String
    public var user: String
    /// Standard input is a pty slave that becomes the controlling terminal (`-t`).
    public var terminal: Bool
    /// Resource limits set before exec (`--ulimit`).
    public var rlimits: [ResourceLimit]

    public init(
        args: [String], env: [String], cwd: String = "/", user: String = "", terminal: Bool = false,
        rlimits: [ResourceLimit] = []
    ) {
        self.args = args
        self.env = env
        self.cwd = cwd
        self.user = user
        self.terminal = terminal
        self.rlimits = rlimits
    }
}

/// One `--ulimit NAME=SOFT[:HARD]`.
public struct ResourceLimit: Codable, Sendable, Equatable {
    /// Docker's names: nofile, nproc, core, cpu, data, fsize, locks, memlock, msgqueue, nice,
    /// rtprio, rttime, sigpending, stack, as.
    public var name: String
    public var soft: UInt64
    public var hard: UInt64

    public init(name: String, soft: UInt64, hard: UInt64) {
        self.name = name
        self.soft = soft
        self.hard = hard
    }

    /// RLIMIT_* numbers by docker's names.
    public static let resources: [String: Int32] = [
        "cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6, "nofile": 7, "memlock": 8,
        "as": 9, "locks": 10, "sigpending": 11, "msgqueue": 12, "nice": 13, "rtprio": 14, "rttime": 15,
    ]

    /// Parses `nofile=1024:2048` (a single value sets both); the soft limit may not exceed the hard.
    public static func parse(_ text: String) throws(RuntimeError) -> ResourceLimit {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, resources[parts[0]] != nil else {
            throw .invalidSpec("invalid ulimit '\(text)': expected NAME=SOFT[:HARD] with a known NAME")
        }
        let values = parts[1].split(separator: ":", omittingEmptySubsequences: false).map { Self.value(String($0)) }
        guard (1...2).contains(values.count), let soft = values[0], let hard = values.count == 2 ? values[1] : values[0]
        else { throw .invalidSpec("invalid ulimit '\(text)': values must be numbers or unlimited") }
        guard soft <= hard else {
            throw .invalidSpec("invalid ulimit '\(text)': soft limit \(soft) is above the hard limit \(hard)")
        }
        return ResourceLimit(name: parts[0], soft: soft, hard: hard)
    }

    private static func value(_ text: String) -> UInt64? {
        text == "unlimited" || text == "-1" ? UInt64.max : UInt64(text)
    }
}

/// The container's network.
public enum NetworkMode: String, Codable, Sendable {
    /// The host's network namespace.
    case host
    /// A private network namespace with only loopback, up.
    case none
}

/// An extra mount: a bind of a host path or a tmpfs.
public struct MountSpec: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case bind, tmpfs }
    public var kind: Kind
    /// Host path for binds.
    public var source: String
    /// Absolute path inside the container.
    public var target: String
    public var readOnly: Bool
    /// tmpfs options such as `size=64m,mode=1777`.
    public var options: String

    public init(kind: Kind, source: String = "", target: String, readOnly: Bool = false, options: String = "") {
        self.kind = kind
        self.source = source
        self.target = target
        self.readOnly = readOnly
        self.options = options
    }
}

/// Capability sets, by name (`CAP_CHOWN` or `CHOWN`).
public struct CapabilitySpec: Codable, Sendable, Equatable {
    public var add: [String]
    public var drop: [String]
    public var privileged: Bool

    /// Docker's default set.
    public static let docker = CapabilitySpec(add: [], drop: [], privileged: false)

    public init(add: [String] = [], drop: [String] = [], privileged: Bool = false) {
        self.add = add
        self.drop = drop
        self.privileged = privileged
    }
}

/// How a container ended.
public enum ExitStatus: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)

    /// The status docker reports: the exit code, or 128 + the signal.
    public var code: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }
}

/// A stream of the container's output.
public enum OutputStream: Sendable {
    case stdout
    case stderr
}

/// Where the container's standard streams go.
public enum ProcessIO: Sendable {
    /// The container uses berth's own descriptors 0, 1 and 2.
    case inherit
    /// Standard input is /dev/null; output chunks are delivered as they come.
    case capture(@Sendable (OutputStream, [UInt8]) -> Void)
    /// These descriptors become the container's 0, 1 and 2 (pipes, a pty slave, /dev/null).
    case descriptors(stdin: Int32, stdout: Int32, stderr: Int32)
}

/// The id mappings of a container's user namespace (the OCI spec's `linux.uidMappings` and
/// `gidMappings`): container root can be an unprivileged user of the host.
public struct UserNamespace: Codable, Sendable, Equatable {
    public var uidMappings: [IDMapping]
    public var gidMappings: [IDMapping]

    public init(uidMappings: [IDMapping], gidMappings: [IDMapping]) {
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
    }
}

/// `size` ids starting at `containerID` inside the namespace are `hostID`… outside.
public struct IDMapping: Codable, Sendable, Equatable {
    public var containerID: UInt32
    public var hostID: UInt32
    public var size: UInt32

    public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
        self.containerID = containerID
        self.hostID = hostID
        self.size = size
    }

    /// Parses `CONTAINER:HOST:SIZE` (podman's `--uidmap` syntax); nil when malformed.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { UInt32($0) }
        guard parts.count == 3, let container = parts[0], let host = parts[1], let size = parts[2], size > 0,
            UInt64(container) + UInt64(size) <= UInt64(UInt32.max), UInt64(host) + UInt64(size) <= UInt64(UInt32.max)
        else { return nil }
        self.init(containerID: container, hostID: host, size: size)
    }

    /// The line of /proc/PID/uid_map (and gid_map) for this mapping.
    var line: String { "\(containerID) \(hostID) \(size)\n" }
}
