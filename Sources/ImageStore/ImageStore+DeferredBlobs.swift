import Foundation
import OCIImage

extension ImageStore {
    /// Records a layer blob that is not written yet. `recipe` (opaque to the store) tells the
    /// snapshotter how to write it from the committed snapshot whose layer it is; a blob already
    /// recorded (written or not) is left as it is.
    public func recordDeferredBlob(
        _ digest: Digest, size: Int64, mediaType: String, recipe: String
    ) throws(StoreError) {
        try db.query(
            "INSERT OR IGNORE INTO blobs(digest, size, media_type, created, recipe) VALUES(?, ?, ?, ?, ?)",
            [.text(digest.description), .integer(size), .text(mediaType), .integer(Self.now), .text(recipe)])
    }

    /// For a blob that is recorded but not on disk: its recipe and the committed snapshot to
    /// write it from (whose files are still there). Nil when the blob is on disk or cannot be
    /// written.
    public func deferredBlob(_ digest: Digest) throws(StoreError) -> (recipe: String, snapshot: SnapshotRecord)? {
        guard !hasBlob(digest),
            let recipe = try db.query(
                "SELECT recipe FROM blobs WHERE digest = ? AND recipe IS NOT NULL", [.text(digest.description)]
            ).first?.text("recipe")
        else { return nil }
        let rows = try db.query(
            "SELECT * FROM snapshots WHERE layer_digest = ? AND state = 'committed' ORDER BY id",
            [.text(digest.description)])
        for row in rows {
            let snapshot = Self.snapshotRecord(row)
            if FileSystem.exists("\(snapshotsDirectory)/\(snapshot.id)/fs") { return (recipe, snapshot) }
        }
        return nil
    }

    /// True when the blob is on disk or can be written from its snapshot.
    public func blobIsAvailable(_ digest: Digest) throws(StoreError) -> Bool {
        if hasBlob(digest) { return true }
        return try deferredBlob(digest) != nil
    }

    /// Notes that a deferred blob has been written (by ``ingestFile(at:digest:size:mediaType:)``).
    public func markBlobWritten(_ digest: Digest) throws(StoreError) {
        try db.query("UPDATE blobs SET recipe = NULL WHERE digest = ?", [.text(digest.description)])
    }
}
