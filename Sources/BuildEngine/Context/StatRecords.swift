#if canImport(Glibc)
    import Glibc
#endif

/// The stat cache's records of one directory's regular files, as one blob: per file, sorted
/// bytewise by name, `u16 name length | name | i64 inode | i64 size | i64 mtime ns |
/// i64 ctime ns | 32-byte SHA-256 of the content` (little endian). A file whose inode, size,
/// mtime and ctime are those recorded is not read again: its recorded digest is used.
enum StatRecords {
    static let fixedSize = 2 + 4 * 8 + 32

    /// The identity fields of a stat result, as recorded.
    struct Identity: Hashable {
        var inode: Int64
        var size: Int64
        var mtime: Int64
        var ctime: Int64

        init(_ st: stat) {
            inode = Int64(bitPattern: UInt64(st.st_ino))
            size = Int64(st.st_size)
            mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
            ctime = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
        }
    }

    /// Appends one record.
    static func append(
        name: UnsafeBufferPointer<UInt8>, identity: Identity, digest: UnsafeRawBufferPointer, to out: inout [UInt8]
    ) {
        let length = UInt16(truncatingIfNeeded: name.count)
        out.append(UInt8(length & 0xff))
        out.append(UInt8(length >> 8))
        out.append(contentsOf: name)
        for value in [identity.inode, identity.size, identity.mtime, identity.ctime] {
            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
        }
        out.append(contentsOf: digest.prefix(32))
    }

    /// Reads a directory's records in name order, for names asked in ascending order.
    struct Cursor {
        let data: [UInt8]
        private(set) var offset = 0

        init(_ data: [UInt8]?) { self.data = data ?? [] }

        /// The record of `name` (its byte range in `data`), moving past records of smaller names.
        /// Names must be asked for in ascending bytewise order.
        mutating func find(_ name: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
            while let record = current() {
                let order = data.withUnsafeBufferPointer { all in
                    Self.compare(UnsafeBufferPointer(rebasing: all[record.name]), name)
                }
                if order < 0 {
                    offset = record.range.upperBound
                    continue
                }
                if order == 0 {
                    offset = record.range.upperBound
                    return record.range
                }
                return nil
            }
            return nil
        }

        /// The record at the cursor, checked against the blob's length.
        private func current() -> (range: Range<Int>, name: Range<Int>)? {
            guard offset + 2 <= data.count else { return nil }
            let length = Int(data[offset]) | Int(data[offset + 1]) << 8
            let end = offset + StatRecords.fixedSize + length
            guard end <= data.count else { return nil }
            return (offset..<end, (offset + 2)..<(offset + 2 + length))
        }

        static func compare(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
            let common = min(a.count, b.count)
            if common > 0, let pa = a.baseAddress, let pb = b.baseAddress {
                let order = memcmp(pa, pb, common)
                if order != 0 { return Int(order) }
            }
            return a.count - b.count
        }
    }

    /// The identity and digest stored in the record at `range` of `data`.
    static func read(_ data: [UInt8], _ range: Range<Int>) -> (Identity, ArraySlice<UInt8>) {
        let start = range.upperBound - 32 - 32
        var fields = [Int64](repeating: 0, count: 4)
        data.withUnsafeBytes { raw in
            for index in 0..<4 {
                fields[index] = Int64(
                    littleEndian: raw.loadUnaligned(fromByteOffset: start + index * 8, as: Int64.self))
            }
        }
        var identity = Identity(stat())
        identity.inode = fields[0]
        identity.size = fields[1]
        identity.mtime = fields[2]
        identity.ctime = fields[3]
        return (identity, data[(range.upperBound - 32)..<range.upperBound])
    }

    /// `data` with the record of `name` replaced by `record` (inserted in name order when absent).
    static func replacing(_ name: [UInt8], with record: [UInt8], in data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + record.count)
        var offset = 0
        var placed = false
        while offset + 2 <= data.count {
            let length = Int(data[offset]) | Int(data[offset + 1]) << 8
            let end = offset + fixedSize + length
            guard end <= data.count else { break }
            let order = data.withUnsafeBufferPointer { all in
                name.withUnsafeBufferPointer {
                    Cursor.compare(UnsafeBufferPointer(rebasing: all[(offset + 2)..<(offset + 2 + length)]), $0)
                }
            }
            if order >= 0 && !placed {
                out += record
                placed = true
            }
            if order != 0 { out += data[offset..<end] }
            offset = end
        }
        if !placed { out += record }
        return out
    }
}
