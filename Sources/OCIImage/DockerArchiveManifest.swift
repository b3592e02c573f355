import Foundation

/// One image of a `docker save` archive, as its `manifest.json` (an array of these) lists it:
/// the config file, the names it was saved under and its layer files, all paths inside the archive.
public struct DockerArchiveManifest: Codable, Sendable, Hashable {
    public var config: String
    public var repoTags: [String]?
    public var layers: [String]

    enum CodingKeys: String, CodingKey {
        case config = "Config"
        case repoTags = "RepoTags"
        case layers = "Layers"
    }

    public init(config: String, repoTags: [String]?, layers: [String]) {
        self.config = config
        self.repoTags = repoTags
        self.layers = layers
    }

    /// Decodes a `manifest.json`, naming `what` (the file) in the error.
    public static func decode(_ bytes: some DataProtocol, what: String) throws(OCIError) -> [DockerArchiveManifest] {
        try CanonicalJSON.decode([DockerArchiveManifest].self, from: bytes, what: what)
    }
}
