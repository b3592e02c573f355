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
    /// Working directory inside the container; created when missing.
    public var cwd: String
    /// `""`, `name`, `uid`, `name:group` or `uid:gid`, resolved in the container's /etc/passwd
    /// and /etc/group.
    public var user: String

    public init(args: [String], env: [String], cwd: String = "/", user: String = "") {
        self.args = args
        self.env = env
        self.cwd = cwd
        self.user = user
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
}
