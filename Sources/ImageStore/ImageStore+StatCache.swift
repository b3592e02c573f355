extension ImageStore {
    /// The stat cache's records of `directory` (absolute) and of every directory under it, by
    /// absolute path: one blob per directory, in the format the builder writes (StatRecords).
    public func statDirectories(under directory: String) throws(StoreError) -> [String: [UInt8]] {
        let slash = UInt8(ascii: "/")
        let base =
            directory.utf8.count > 1 && directory.utf8.last == slash
            ? String(decoding: directory.utf8.dropLast(), as: UTF8.self) : directory
        let prefix = base.utf8.last == slash ? base : base + "/"
        var result: [String: [UInt8]] = [:]
        // Paths under the prefix sort between "prefix" and "prefix" + U+10FFFF.
        try db.scan(
            "SELECT path, records FROM stat_directories WHERE path = ? OR (path >= ? AND path < ?)",
            [.text(base), .text(prefix), .text(prefix + "\u{10FFFF}")]
        ) { row in
            guard let path = row.text(0) else { return }
            result[path] = row.blob(1)
        }
        return result
    }

    /// Replaces the records of the given directories (absolute paths), in one transaction; an
    /// empty blob removes a directory's row.
    public func updateStatDirectories(_ directories: [String: [UInt8]]) throws(StoreError) {
        guard !directories.isEmpty else { return }
        try db.transaction { () throws(StoreError) in
            try db.executeMany(
                "INSERT OR REPLACE INTO stat_directories(path, records) VALUES(?, ?)",
                directories.filter { !$0.value.isEmpty }.map { [.text($0.key), .blob($0.value)] })
            try db.executeMany(
                "DELETE FROM stat_directories WHERE path = ?",
                directories.filter { $0.value.isEmpty }.map { [.text($0.key)] })
        }
    }
}
