import OCIImage

/// Build-step cache keys: a digest over the parent step's key and everything that can change the
/// step's result (see docs/cache.md). Keys are hex strings; parts are length-prefixed so no two
/// different part lists can collide by concatenation.
public struct CacheKey: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public init(value: String) {
        self.value = value
    }

    /// The root key of a stage: its base image id, or `scratch`, and the platform.
    /// With SOURCE_DATE_EPOCH the layers differ (clamped mtimes), so it is part of every key.
    public static func base(_ imageID: String, platform: String, sourceDateEpoch: Int64? = nil) -> CacheKey {
        derive(
            parent: nil, kind: "base", parts: [imageID, platform] + (sourceDateEpoch.map { ["epoch=\($0)"] } ?? []))
    }

    /// The key of a step of `kind` (RUN, COPY, ENV...) on top of `parent`.
    public static func derive(parent: CacheKey?, kind: String, parts: [String]) -> CacheKey {
        var hasher = DigestHasher()
        func feed(_ text: String) {
            let bytes = Array(text.utf8)
            hasher.update(Array("\(bytes.count):".utf8))
            hasher.update(bytes)
        }
        feed("berth-cache-v1")
        feed(parent?.value ?? "")
        feed(kind)
        for part in parts { feed(part) }
        return CacheKey(value: hasher.finalize().encoded)
    }

    public var description: String { value }
}
