import Foundation

extension ImageStore {
    /// How many Dockerfile/target pairs keep a build record; older ones are dropped.
    public static let buildRecordLimit = 200

    /// The step inputs recorded by the last build of `dockerfile` (an absolute path) and
    /// `target` (empty for the last stage), as the builder encoded them.
    public func buildRecord(dockerfile: String, target: String) throws(StoreError) -> String? {
        try db.query(
            "SELECT record FROM build_records WHERE dockerfile = ? AND target = ?", [.text(dockerfile), .text(target)]
        ).first?.text("record")
    }

    /// Replaces the record of `dockerfile` and `target`: only the last build of each is kept,
    /// and only for the most recently built ``buildRecordLimit`` pairs.
    public func putBuildRecord(dockerfile: String, target: String, record: String) throws(StoreError) {
        try db.transaction { () throws(StoreError) in
            try db.query(
                "INSERT OR REPLACE INTO build_records(dockerfile, target, record, created) VALUES(?, ?, ?, ?)",
                [.text(dockerfile), .text(target), .text(record), .integer(Self.now)])
            try db.query(
                """
                DELETE FROM build_records WHERE rowid NOT IN
                    (SELECT rowid FROM build_records ORDER BY created DESC, rowid DESC LIMIT ?)
                """, [.integer(Int64(Self.buildRecordLimit))])
        }
    }
}
