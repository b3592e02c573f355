import Foundation
import OCIImage

extension ImageStore {
    /// The kept compressed copy of the uncompressed layer `diffID`, if one was made before.
    public func compressedLayer(diffID: Digest, algorithm: String) throws(StoreError) -> Descriptor? {
        guard
            let row = try db.query(
                "SELECT digest, size FROM compressed WHERE diff_id = ? AND algorithm = ?",
                [.text(diffID.description), .text(algorithm)]
            ).first,
            let text = row.text("digest"), let digest = try? Digest(parsing: text), hasBlob(digest)
        else { return nil }
        return Descriptor(mediaType: "", digest: digest, size: row.integer("size") ?? 0)
    }

    /// Remembers that blob `compressed` is `diffID` compressed with `algorithm` (the blob must be
    /// in the store). Garbage collection keeps it as long as the uncompressed layer lives.
    public func recordCompressedLayer(
        diffID: Digest, algorithm: String, compressed: Descriptor
    ) throws(StoreError) {
        try db.query(
            "INSERT OR REPLACE INTO compressed(diff_id, algorithm, digest, size) VALUES(?, ?, ?, ?)",
            [
                .text(diffID.description), .text(algorithm), .text(compressed.digest.description),
                .integer(compressed.size),
            ])
    }
}
