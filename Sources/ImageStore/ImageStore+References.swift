import Foundation
import OCIImage

/// What the store's roots (images and build-cache records) keep alive.
struct StoreReferences {
    /// Every snapshot row, by id.
    var snapshots: [Int64: SnapshotRecord]
    /// Committed snapshots by chain id.
    var snapshotsByChain: [String: Int64]
    /// Snapshots reachable from images (with their parents).
    var imageSnapshots: Set<Int64>
    /// Blobs images name directly: manifests, configs, layers.
    var imageBlobs: Set<String>
    /// Cache records, most recently used first.
    var cacheRecords: [CacheRow]

    struct CacheRow {
        var key: String
        var chain: String?
        var lastUsed: Int64
    }

    /// `roots` and all their parents.
    func closure(_ roots: some Sequence<Int64>) -> Set<Int64> {
        var result = Set<Int64>()
        for root in roots {
            var current: Int64? = root
            while let id = current, result.insert(id).inserted {
                current = snapshots[id]?.parent
            }
        }
        return result
    }

    /// The snapshots a cache record keeps alive (empty when its snapshot is gone).
    func snapshots(of record: CacheRow) -> Set<Int64> {
        guard let chain = record.chain, let id = snapshotsByChain[chain] else { return [] }
        return closure([id])
    }

    /// Recorded size of a set of snapshots (their layer tar sizes).
    func size(of ids: Set<Int64>) -> Int64 {
        ids.reduce(0) { $0 + (snapshots[$1]?.size ?? 0) }
    }
}

extension ImageStore {
    /// Reads every root and what it references. An image that cannot be read throws, since a
    /// damaged image must be looked at (`system check`), not collected around; with
    /// `tolerateDamage` (for `system check` itself) its row still keeps its manifest and config
    /// blobs, and whatever of it can be read keeps the rest.
    func references(tolerateDamage: Bool = false) throws(StoreError) -> StoreReferences {
        var references = try referencesWithoutImages()
        var roots: [Int64] = []
        for row in try db.query("SELECT id, manifest_digest FROM images") {
            guard let id = row.text("id"), let manifestText = row.text("manifest_digest") else { continue }
            references.imageBlobs.insert(id)
            references.imageBlobs.insert(manifestText)
            let manifest: Manifest?
            let config: ImageConfig?
            do {
                manifest = try CanonicalJSON.decode(
                    Manifest.self, from: try readBlob(try Digest(parsing: manifestText)),
                    what: "manifest \(manifestText)")
            } catch {
                guard tolerateDamage else { throw Self.damaged(id, error) }
                manifest = nil
            }
            do {
                config = try CanonicalJSON.decode(
                    ImageConfig.self, from: try readBlob(try Digest(parsing: id)), what: "image config \(id)")
            } catch {
                guard tolerateDamage else { throw Self.damaged(id, error) }
                config = nil
            }
            for layer in manifest?.layers ?? [] { references.imageBlobs.insert(layer.digest.description) }
            roots += (config?.rootfs.chainIDs ?? []).compactMap { references.snapshotsByChain[$0.description] }
        }
        references.imageSnapshots = references.closure(roots)
        return references
    }

    private static func damaged(_ id: String, _ error: any Error) -> StoreError {
        (error as? StoreError) ?? .invalid("image \(id) cannot be read: \(error)")
    }

    /// Snapshots and cache records, before images are read.
    func referencesWithoutImages() throws(StoreError) -> StoreReferences {
        var snapshots: [Int64: SnapshotRecord] = [:]
        var byChain: [String: Int64] = [:]
        for row in try db.query("SELECT * FROM snapshots") {
            let record = Self.snapshotRecord(row)
            snapshots[record.id] = record
            if record.isCommitted, let chain = record.chainID { byChain[chain.description] = record.id }
        }
        let cache = try db.query("SELECT key, snapshot_chain, last_used FROM cache ORDER BY last_used DESC, key").map {
            StoreReferences.CacheRow(
                key: $0.text("key") ?? "", chain: $0.text("snapshot_chain"), lastUsed: $0.integer("last_used") ?? 0)
        }
        return StoreReferences(
            snapshots: snapshots, snapshotsByChain: byChain, imageSnapshots: [], imageBlobs: [], cacheRecords: cache)
    }
}
