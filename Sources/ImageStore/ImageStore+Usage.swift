import Foundation
import OCIImage

/// Disk use by kind, as `system df` shows it.
public struct StoreUsage: Sendable, Equatable {
    public struct Line: Sendable, Equatable {
        public var total: Int
        public var active: Int
        public var size: Int64
        public var reclaimable: Int64
    }

    /// Images: size counts each layer, config and manifest once, however many images share it.
    public var images: Line
    /// Build cache: records, the snapshots only they keep alive, and the cache mounts.
    public var buildCache: Line
}

extension ImageStore {
    /// Measures what images and the build cache hold.
    public func usage() throws(StoreError) -> StoreUsage {
        let references = try references()
        var imageBytes: Int64 = 0
        for digest in references.imageBlobs {
            imageBytes +=
                try db.query("SELECT size FROM blobs WHERE digest = ?", [.text(digest)]).first?.integer("size") ?? 0
        }
        let imageCount = try db.query("SELECT COUNT(*) AS n FROM images").first?.integer("n") ?? 0
        var cacheOnly = Set<Int64>()
        for record in references.cacheRecords { cacheOnly.formUnion(references.snapshots(of: record)) }
        cacheOnly.subtract(references.imageSnapshots)
        // Cache mounts (RUN --mount=type=cache) are build cache too, as in docker's df.
        let mounts = try cacheMounts()
        let cacheBytes = references.size(of: cacheOnly) + mounts.reduce(0) { $0 + $1.size }
        return StoreUsage(
            images: .init(total: Int(imageCount), active: 0, size: imageBytes, reclaimable: imageBytes),
            buildCache: .init(
                total: references.cacheRecords.count + mounts.count, active: 0, size: cacheBytes,
                reclaimable: cacheBytes))
    }
}
