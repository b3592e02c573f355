import Foundation

/// The image configuration blob (OCI image spec `config`), whose digest is the image id.
public struct ImageConfig: Codable, Sendable, Hashable {
    public var created: String?
    public var author: String?
    public var architecture: String
    public var os: String
    public var variant: String?
    public var config: ContainerConfig?
    public var rootfs: RootFS
    public var history: [History]?

    public init(
        created: String? = nil, author: String? = nil, platform: Platform = .host,
        config: ContainerConfig? = ContainerConfig(), rootfs: RootFS = RootFS(diffIDs: []),
        history: [History]? = []
    ) {
        self.created = created
        self.author = author
        self.architecture = platform.architecture
        self.os = platform.os
        self.variant = platform.variant
        self.config = config
        self.rootfs = rootfs
        self.history = history
    }

    /// The platform this image is built for.
    public var platform: Platform {
        Platform(architecture: architecture, os: os, variant: variant)
    }
}

/// The layers of an image as uncompressed-tar digests.
public struct RootFS: Codable, Sendable, Hashable {
    public var type: String = "layers"
    public var diffIDs: [Digest]

    enum CodingKeys: String, CodingKey {
        case type
        case diffIDs = "diff_ids"
    }

    public init(diffIDs: [Digest]) {
        self.diffIDs = diffIDs
    }
}

/// One entry of the image history.
public struct History: Codable, Sendable, Hashable {
    public var created: String?
    public var createdBy: String?
    public var author: String?
    public var comment: String?
    public var emptyLayer: Bool?

    enum CodingKeys: String, CodingKey {
        case created, author, comment
        case createdBy = "created_by"
        case emptyLayer = "empty_layer"
    }

    public init(
        created: String? = nil, createdBy: String? = nil, author: String? = nil,
        comment: String? = nil, emptyLayer: Bool? = nil
    ) {
        self.created = created
        self.createdBy = createdBy
        self.author = author
        self.comment = comment
        self.emptyLayer = emptyLayer
    }
}

/// An empty JSON object, the value type of ExposedPorts and Volumes.
public struct EmptyObject: Codable, Sendable, Hashable {
    public init() {}
}

/// The runtime defaults an image carries (`config` inside the image config).
public struct ContainerConfig: Codable, Sendable, Hashable {
    public var user: String?
    public var exposedPorts: [String: EmptyObject]?
    public var env: [String]?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var volumes: [String: EmptyObject]?
    public var workingDir: String?
    public var labels: [String: String]?
    public var stopSignal: String?
    public var argsEscaped: Bool?
    public var healthcheck: Healthcheck?
    public var shell: [String]?
    public var onBuild: [String]?

    enum CodingKeys: String, CodingKey {
        case user = "User"
        case exposedPorts = "ExposedPorts"
        case env = "Env"
        case entrypoint = "Entrypoint"
        case cmd = "Cmd"
        case volumes = "Volumes"
        case workingDir = "WorkingDir"
        case labels = "Labels"
        case stopSignal = "StopSignal"
        case argsEscaped = "ArgsEscaped"
        case healthcheck = "Healthcheck"
        case shell = "Shell"
        case onBuild = "OnBuild"
    }

    public init() {}

    /// Looks up `NAME` in Env.
    public func environmentValue(_ name: String) -> String? {
        for entry in env ?? [] {
            if let eq = entry.firstIndex(of: "="), entry[..<eq] == name {
                return String(entry[entry.index(after: eq)...])
            }
        }
        return nil
    }

    /// Sets `NAME=value` in Env, replacing an earlier value in place.
    public mutating func setEnvironment(_ name: String, _ value: String) {
        var list = env ?? []
        let entry = "\(name)=\(value)"
        if let i = list.firstIndex(where: { $0.hasPrefix(name + "=") }) {
            list[i] = entry
        } else {
            list.append(entry)
        }
        env = list
    }
}

/// A HEALTHCHECK in the image config; durations in nanoseconds.
public struct Healthcheck: Codable, Sendable, Hashable {
    public var test: [String]?
    public var interval: Int64?
    public var timeout: Int64?
    public var startPeriod: Int64?
    public var startInterval: Int64?
    public var retries: Int?

    enum CodingKeys: String, CodingKey {
        case test = "Test"
        case interval = "Interval"
        case timeout = "Timeout"
        case startPeriod = "StartPeriod"
        case startInterval = "StartInterval"
        case retries = "Retries"
    }

    public init(
        test: [String]?, interval: Int64? = nil, timeout: Int64? = nil, startPeriod: Int64? = nil,
        startInterval: Int64? = nil, retries: Int? = nil
    ) {
        self.test = test
        self.interval = interval
        self.timeout = timeout
        self.startPeriod = startPeriod
        self.startInterval = startInterval
        self.retries = retries
    }
}

extension RootFS {
    /// The OCI chain id of every layer prefix: `ChainID(L0) = DiffID(L0)`, then
    /// `ChainID(Ln) = sha256("ChainID(Ln-1) DiffID(Ln)")`.
    public var chainIDs: [Digest] {
        var result: [Digest] = []
        for diffID in diffIDs {
            result.append(Self.chainID(parent: result.last, diffID: diffID))
        }
        return result
    }

    /// The chain id of a layer with diff id `diffID` on top of the chain `parent`.
    public static func chainID(parent: Digest?, diffID: Digest) -> Digest {
        guard let parent else { return diffID }
        return Digest.sha256(of: Array("\(parent) \(diffID)".utf8))
    }
}
