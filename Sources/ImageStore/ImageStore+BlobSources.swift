import Foundation
import OCIImage

extension ImageStore {
    /// Remembers that `repository` on `registry` has blob `digest` (pulled from or pushed there).
    public func recordBlobSource(_ digest: Digest, registry: String, repository: String) throws(StoreError) {
        try db.query(
            "INSERT OR IGNORE INTO blob_sources(digest, registry, repository) VALUES(?, ?, ?)",
            [.text(digest.description), .text(registry), .text(repository)])
    }

    /// Another repository of `registry` known to have `digest`, to mount it from.
    public func blobSource(_ digest: Digest, registry: String, excluding repository: String) throws(StoreError)
        -> String?
    {
        try db.query(
            "SELECT repository FROM blob_sources WHERE digest = ? AND registry = ? AND repository != ? LIMIT 1",
            [.text(digest.description), .text(registry), .text(repository)]
        ).first?.text("repository")
    }
}
