/// What the stat cache knows about one file: the stat fields that change whenever its content
/// can have changed, and the content digest computed then.
public struct StatCacheEntry: Sendable, Equatable {
    public var size: Int64
    public var mtimeNanoseconds: Int64
    public var ctimeNanoseconds: Int64
    public var inode: Int64
    /// Hex SHA-256 of the content.
    public var digest: String

    public init(size: Int64, mtimeNanoseconds: Int64, ctimeNanoseconds: Int64, inode: Int64, digest: String) {
        self.size = size
        self.mtimeNanoseconds = mtimeNanoseconds
        self.ctimeNanoseconds = ctimeNanoseconds
        self.inode = inode
        self.digest = digest
    }
}

extension ImageStore {
    /// Every cached entry for files under `directory` (absolute), by absolute path.
    public func statCache(under directory: String) throws(StoreError) -> [String: StatCacheEntry] {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        var result: [String: StatCacheEntry] = [:]
        // Paths under the prefix sort between "prefix" and "prefix" + U+10FFFF.
        try db.scan(
            "SELECT path, size, mtime_ns, ctime_ns, inode, digest FROM stat_cache WHERE path >= ? AND path < ?",
            [.text(prefix), .text(prefix + "\u{10FFFF}")]
        ) { row in
            guard let path = row.text(0), let digest = row.text(5) else { return }
            result[path] = StatCacheEntry(
                size: row.integer(1), mtimeNanoseconds: row.integer(2), ctimeNanoseconds: row.integer(3),
                inode: row.integer(4), digest: digest)
        }
        return result
    }

    /// Records freshly hashed files, in one transaction.
    public func updateStatCache(_ entries: [String: StatCacheEntry]) throws(StoreError) {
        guard !entries.isEmpty else { return }
        try db.transaction { () throws(StoreError) in
            try db.executeMany(
                "INSERT OR REPLACE INTO stat_cache(path, size, mtime_ns, ctime_ns, inode, digest) VALUES(?, ?, ?, ?, ?, ?)",
                entries.map { path, entry in
                    [
                        .text(path), .integer(entry.size), .integer(entry.mtimeNanoseconds),
                        .integer(entry.ctimeNanoseconds), .integer(entry.inode), .text(entry.digest),
                    ]
                })
        }
    }
}
