import OCIImage
import Registry

/// Everything `berth build` was asked to do.
public struct BuildOptions: Sendable {
    /// The build context directory.
    public var contextPath: String
    /// Path of the Dockerfile (default `<context>/Dockerfile`).
    public var dockerfilePath: String
    /// Dockerfile bytes when given on stdin (`-f -`); then `dockerfilePath` is only a name.
    public var dockerfileContents: [UInt8]?
    public var tags: [ImageReference]
    public var target: String?
    public var buildArgs: [String: String]
    public var labels: [String: String]
    public var noCache: Bool
    /// `--no-cache-filter`: stages (by name or index) whose steps ignore cache hits.
    public var noCacheFilter: [String] = []
    /// Network for RUN steps: `host` (default, as BuildKit's `--network host`) or `none`.
    public var network: String
    /// SOURCE_DATE_EPOCH: `created` times and layer file mtimes are clamped to it.
    public var sourceDateEpoch: Int64?
    /// `--pull`: fetch base images from their registry even when the store has them.
    public var pull = false
    /// Registries: plain-HTTP hosts, mirrors, credentials.
    public var registry = RegistrySettings()
    /// `--cache-to`: where this build's cache records and layers are exported.
    public var cacheTo: [CacheLocation] = []
    /// `--cache-from`: cache to reuse, fetched only for steps whose keys match.
    public var cacheFrom: [CacheLocation] = []
    /// `--output`: where the result is written besides (or, without tags, instead of) the store.
    public var outputs: [BuildOutput] = []
    /// `--explain`: say, for every step that misses the cache, what changed since the last build
    /// of the same Dockerfile and target.
    public var explain = false
    /// `--debug-on-failure`: called while a failed RUN step's file system is still mounted.
    public var failureDebugger: (any FailureDebugger)?
    /// `--secret`: secrets by id, for `RUN --mount=type=secret`.
    public var secrets: [String: SecretSource] = [:]
    /// `--ssh`: agent sockets by id, for `RUN --mount=type=ssh`.
    public var sshAgents: [String: String] = [:]

    public init(
        contextPath: String, dockerfilePath: String? = nil, dockerfileContents: [UInt8]? = nil,
        tags: [ImageReference] = [], target: String? = nil, buildArgs: [String: String] = [:],
        labels: [String: String] = [:], noCache: Bool = false, network: String = "host"
    ) {
        self.contextPath = contextPath
        self.dockerfilePath = dockerfilePath ?? contextPath + "/Dockerfile"
        self.dockerfileContents = dockerfileContents
        self.tags = tags
        self.target = target
        self.buildArgs = buildArgs
        self.labels = labels
        self.noCache = noCache
        self.network = network
    }
}
