import CArchive
import Foundation
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// The bytes a tar is read from: a file, hashed as libarchive consumes it, so unpacking an
/// uncompressed layer also yields its diff ID.
final class ArchiveSource {
    let fd: Int32
    let path: String
    var hasher = DigestHasher()
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var failure: Int32 = 0

    init(path: String) throws(LayerArchiveError) {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LayerArchiveError(path: path, message: "open: \(String(cString: strerror(errno)))") }
        self.path = path
    }

    deinit { close(fd) }

    /// Opens a libarchive reader over this source; `raw` reads the stream decompressed once
    /// (by the filter its first bytes name, see ``compression(of:)``) as one data entry,
    /// otherwise the file is read as an uncompressed tar.
    ///
    /// Exactly one filter, never libarchive's filter bidding: bidding stacks filters for as long
    /// as the output looks compressed, so a zstd blob holding a gzip stream would be decompressed
    /// twice and its "diff ID" would be the inner tar's, where docker and containerd take the
    /// digest of the once-decompressed stream (and then refuse it as a tar).
    ///
    /// `decompressed`: read a tar through the one filter its first bytes name (ADD's test of
    /// whether a local file is an archive); layers are decompressed to a file first instead.
    func openReader(raw: Bool, decompressed: Bool = false) throws(LayerArchiveError) -> OpaquePointer {
        guard let archive = archive_read_new() else { throw LayerArchiveError(path: path, message: "out of memory") }
        if raw || decompressed, let filter = Self.compression(of: path) { archive_read_append_filter(archive, filter) }
        if raw {
            archive_read_support_format_raw(archive)
        } else {
            archive_read_support_format_tar(archive)
        }
        let context = Unmanaged.passUnretained(self).toOpaque()
        let rc = archive_read_open(
            archive, context, nil,
            { _, context, block in
                guard let context, let block else { return -1 }
                let source = Unmanaged<ArchiveSource>.fromOpaque(context).takeUnretainedValue()
                return source.next(block)
            }, nil)
        guard rc == ARCHIVE_OK else {
            let message = archiveErrorMessage(archive)
            archive_read_free(archive)
            throw LayerArchiveError(path: path, message: "not a readable archive: \(message)")
        }
        return archive
    }

    private func next(_ block: UnsafeMutablePointer<UnsafeRawPointer?>) -> Int {
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = errno
                return -1
            }
            buffer.withUnsafeBytes { raw in
                hasher.update(UnsafeRawBufferPointer(rebasing: raw[0..<n]))
                block.pointee = raw.baseAddress.map { UnsafeRawPointer($0) }
            }
            return n
        }
    }

    /// Reads the rest of the file through the hasher (trailing padding libarchive did not need).
    func drain() {
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// True when the file starts with a gzip, zstd, bzip2 or xz signature.
    static func isCompressed(_ path: String) -> Bool {
        compression(of: path) != nil
    }

    /// The libarchive filter (`ARCHIVE_FILTER_*`) for the compression the file's first bytes
    /// name; nil for anything else (a plain tar).
    static func compression(of path: String) -> Int32? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var magic = [UInt8](repeating: 0, count: 6)
        let n = read(fd, &magic, magic.count)
        guard n >= 2 else { return nil }
        if magic[0] == 0x1f && magic[1] == 0x8b { return ARCHIVE_FILTER_GZIP }
        if n >= 4 && magic[0...3] == [0x28, 0xb5, 0x2f, 0xfd] { return ARCHIVE_FILTER_ZSTD }
        if n >= 3 && magic[0...2] == [0x42, 0x5a, 0x68] { return ARCHIVE_FILTER_BZIP2 }
        if n >= 6 && magic == [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] { return ARCHIVE_FILTER_XZ }
        return nil
    }
}
