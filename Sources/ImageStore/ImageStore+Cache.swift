import Foundation
import OCIImage

extension ImageStore {
    /// The recorded result for a build-step cache key, if any (and marks it used).
    public func cacheRecord(_ key: String) throws(StoreError) -> String? {
        guard let row = try db.query("SELECT result FROM cache WHERE key = ?", [.text(key)]).first else {
            return nil
        }
        try db.query("UPDATE cache SET last_used = ? WHERE key = ?", [.integer(Self.now), .text(key)])
        return row.text("result")
    }

    /// Records the result of a build step under its cache key. `snapshot` is the chain id of
    /// the snapshot the result refers to: garbage collection keeps it while the record lives.
    public func putCacheRecord(_ key: String, result: String, snapshot: Digest? = nil) throws(StoreError) {
        try db.query(
            "INSERT OR REPLACE INTO cache(key, result, snapshot_chain, created, last_used) VALUES(?, ?, ?, ?, ?)",
            [
                .text(key), .text(result), snapshot.map { .text($0.description) } ?? .null, .integer(Self.now),
                .integer(Self.now),
            ])
    }
}
