import Foundation
import OCIImage

/// A snapshot's metadata: a directory holding one layer's files in overlay form.
public struct SnapshotRecord: Sendable, Equatable, Hashable {
    /// Numeric id: the directory is `snapshots/<id>/fs`.
    public var id: Int64
    /// OCI chain id of this layer on top of its parents (nil while active).
    public var chainID: Digest?
    public var parent: Int64?
    public var diffID: Digest?
    /// The uncompressed layer tar blob.
    public var layerDigest: Digest?
    public var size: Int64?
    public var isCommitted: Bool

    public init(
        id: Int64, chainID: Digest?, parent: Int64?, diffID: Digest?, layerDigest: Digest?, size: Int64?,
        isCommitted: Bool
    ) {
        self.id = id
        self.chainID = chainID
        self.parent = parent
        self.diffID = diffID
        self.layerDigest = layerDigest
        self.size = size
        self.isCommitted = isCommitted
    }
}

extension ImageStore {
    /// Allocates a new active snapshot row and returns its id.
    public func createActiveSnapshot(parent: Int64?) throws(StoreError) -> Int64 {
        try db.query(
            "INSERT INTO snapshots(parent, state, created) VALUES(?, 'active', ?)",
            [parent.map { .integer($0) } ?? .null, .integer(Self.now)])
        return db.lastInsertRowID
    }

    /// Marks an active snapshot committed with its layer identity.
    public func commitSnapshot(
        _ id: Int64, chainID: Digest, diffID: Digest, layer: Descriptor
    ) throws(StoreError) {
        try db.query(
            "UPDATE snapshots SET chain_id = ?, diff_id = ?, layer_digest = ?, size = ?, state = 'committed' WHERE id = ?",
            [
                .text(chainID.description), .text(diffID.description), .text(layer.digest.description),
                .integer(layer.size), .integer(id),
            ])
    }

    /// The committed snapshot with this chain id, if any.
    public func snapshot(chainID: Digest) throws(StoreError) -> SnapshotRecord? {
        try db.query("SELECT * FROM snapshots WHERE chain_id = ? AND state = 'committed'", [.text(chainID.description)])
            .first.map(Self.snapshotRecord)
    }

    /// The snapshot with this id.
    public func snapshot(id: Int64) throws(StoreError) -> SnapshotRecord {
        guard let row = try db.query("SELECT * FROM snapshots WHERE id = ?", [.integer(id)]).first else {
            throw .snapshotNotFound(String(id))
        }
        return Self.snapshotRecord(row)
    }

    /// Deletes a snapshot row (its directory must be removed by the caller first).
    public func deleteSnapshotRecord(_ id: Int64) throws(StoreError) {
        try db.query("DELETE FROM snapshots WHERE id = ?", [.integer(id)])
    }

    /// Active snapshots (left behind by an interrupted berth), for cleanup.
    public func activeSnapshots() throws(StoreError) -> [SnapshotRecord] {
        try db.query("SELECT * FROM snapshots WHERE state = 'active'").map(Self.snapshotRecord)
    }

    static func snapshotRecord(_ row: SQLRow) -> SnapshotRecord {
        SnapshotRecord(
            id: row.integer("id") ?? 0,
            chainID: row.text("chain_id").flatMap { try? Digest(parsing: $0) },
            parent: row.integer("parent"),
            diffID: row.text("diff_id").flatMap { try? Digest(parsing: $0) },
            layerDigest: row.text("layer_digest").flatMap { try? Digest(parsing: $0) },
            size: row.integer("size"),
            isCommitted: row.text("state") == "committed")
    }
}
