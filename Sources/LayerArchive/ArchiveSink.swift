import CArchive
import Foundation
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// The destination of a written tar: a file descriptor, with every byte hashed on the way so a
/// layer's diff ID needs no second pass.
final class ArchiveSink {
    let fd: Int32
    var hasher = DigestHasher()
    var failure: Int32 = 0

    init(fd: Int32) {
        self.fd = fd
    }

    /// Opens a libarchive writer (PAX) that sends its output here in 1 MiB writes. The last
    /// block is not padded, so the bytes do not depend on the block size.
    func openWriter(path: String) throws(LayerArchiveError) -> OpaquePointer {
        guard let archive = archive_write_new() else { throw LayerArchiveError(path: path, message: "out of memory") }
        archive_write_set_format_pax_restricted(archive)
        archive_write_set_bytes_per_block(archive, 1 << 20)
        archive_write_set_bytes_in_last_block(archive, 1)
        let context = Unmanaged.passUnretained(self).toOpaque()
        let rc = archive_write_open2(
            archive, context, nil,
            { _, context, buffer, length in
                guard let context, let buffer else { return -1 }
                let sink = Unmanaged<ArchiveSink>.fromOpaque(context).takeUnretainedValue()
                return sink.writeThrough(UnsafeRawBufferPointer(start: buffer, count: length))
            }, nil, nil)
        guard rc == ARCHIVE_OK else {
            let message = String(cString: archive_error_string(archive))
            archive_write_free(archive)
            throw LayerArchiveError(path: path, message: message)
        }
        return archive
    }

    /// Writes `bytes` to the descriptor and the hasher; -1 on failure (recorded in `failure`).
    func writeThrough(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = errno
                return -1
            }
            offset += n
        }
        hasher.update(bytes)
        return bytes.count
    }
}
