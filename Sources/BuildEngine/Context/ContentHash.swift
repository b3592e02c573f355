import Foundation
import ImageStore
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// The content hash of what a COPY selects: for every entry (in sorted walk order) its path
/// relative to the source, type, permission bits, size, link target and bytes. mtimes, inode
/// numbers and owners on the build machine never enter it, so a fresh clone hits the cache.
enum ContentHash {
    /// Stat-cache state for one hashing pass: what the store knew, and what was learned.
    final class StatCache {
        let known: [String: StatCacheEntry]
        var learned: [String: StatCacheEntry] = [:]
        init(known: [String: StatCacheEntry]) { self.known = known }
    }

    /// The content hash of `sources`. With a stat cache, a regular file whose size, mtime,
    /// ctime and inode match the cache is not read: its recorded digest is used. `entries`, when
    /// given, receives every entry's path (the source's path joined with the path under it) and
    /// a summary of what was hashed for it (for `--explain`).
    static func of(
        _ sources: [SelectedSource], in root: SourceRoot, cache: StatCache? = nil,
        entries: ((String, String) -> Void)? = nil
    ) throws -> String {
        var hasher = DigestHasher()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for source in sources {
            hasher.update(Array("source \(source.relativePath)\u{0}".utf8))
            try FileWalk.walk(
                hostPath: source.hostPath, contextPath: source.contextPath,
                include: root.decision(for: source)
            ) { entry, _ in
                let mode = entry.status.st_mode
                let type: String
                var extra = ""
                switch mode & S_IFMT {
                case S_IFDIR: type = "d"
                case S_IFREG:
                    type = "f"
                    extra = String(entry.status.st_size)
                case S_IFLNK:
                    type = "l"
                    extra = (try? readLink(entry.hostPath)) ?? ""
                case S_IFIFO: type = "p"
                case S_IFCHR, S_IFBLK:
                    type = (mode & S_IFMT) == S_IFCHR ? "c" : "b"
                    extra = String(entry.status.st_rdev)
                default: type = "?"
                }
                let header =
                    "\(entry.relativePath)\u{0}\(type)\u{0}\(String(mode & 0o7777, radix: 8))\u{0}\(extra)\u{0}"
                hasher.update(Array(header.utf8))
                var digest = ""
                if type == "f" {
                    digest = try fileDigest(entry, buffer: &buffer, cache: cache)
                    hasher.update(Array(digest.utf8))
                }
                if let entries {
                    let path = [source.relativePath, entry.relativePath].filter { !$0.isEmpty }.joined(separator: "/")
                    entries(path.isEmpty ? "." : path, "\(type) \(String(mode & 0o7777, radix: 8)) \(extra) \(digest)")
                }
            }
        }
        return hasher.finalize().encoded
    }

    /// Hex SHA-256 of a regular file, from the stat cache when its stat fields match.
    static func fileDigest(_ entry: WalkEntry, buffer: inout [UInt8], cache: StatCache?) throws -> String {
        let st = entry.status
        let current = StatCacheEntry(
            size: Int64(st.st_size),
            mtimeNanoseconds: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec),
            ctimeNanoseconds: Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec),
            inode: Int64(st.st_ino),
            digest: "")
        if let known = cache?.known[entry.hostPath], known.size == current.size,
            known.mtimeNanoseconds == current.mtimeNanoseconds, known.ctimeNanoseconds == current.ctimeNanoseconds,
            known.inode == current.inode
        {
            return known.digest
        }
        var hasher = DigestHasher()
        let fd = open(entry.hostPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            throw BuildError("cannot read \(entry.hostPath): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        while true {
            // A big context takes a while: an interrupted build stops here.
            try Task.checkCancellation()
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BuildError("cannot read \(entry.hostPath): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        var learned = current
        learned.digest = hasher.finalize().encoded
        cache?.learned[entry.hostPath] = learned
        return learned.digest
    }

    static func readLink(_ path: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { throw BuildError("cannot read link \(path): \(String(cString: strerror(errno)))") }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
