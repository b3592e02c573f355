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

    /// Opens a libarchive writer (PAX) that sends its output here unblocked: file data comes
    /// straight from the caller's buffer (no copy into libarchive's block buffer), small pieces
    /// (headers, padding) are gathered here. No block padding, so the bytes are the same as with
    /// any block size.
    func openWriter(path: String) throws(LayerArchiveError) -> OpaquePointer {
        guard let archive = archive_write_new() else { throw LayerArchiveError(path: path, message: "out of memory") }
        archive_write_set_format_pax_restricted(archive)
        archive_write_set_bytes_per_block(archive, 0)
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
            let message = archiveErrorMessage(archive)
            archive_write_free(archive)
            throw LayerArchiveError(path: path, message: message)
        }
        return archive
    }

    /// Small writes gathered into one system call.
    private var pending: [UInt8] = []
    private static let gather = 1 << 20

    /// Hashes `bytes` and writes them (small ones gathered); -1 on failure (in `failure`).
    func writeThrough(_ bytes: UnsafeRawBufferPointer) -> Int {
        hasher.update(bytes)
        if bytes.count < 65536 {
            pending.append(contentsOf: bytes)
            if pending.count >= Self.gather, !flush() { return -1 }
            return bytes.count
        }
        guard flush(), writeAll(bytes) else { return -1 }
        return bytes.count
    }

    /// Writes out what is gathered; false on failure (in `failure`).
    @discardableResult
    func flush() -> Bool {
        guard !pending.isEmpty else { return true }
        let ok = pending.withUnsafeBytes { writeAll($0) }
        pending.removeAll(keepingCapacity: true)
        return ok
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = errno
                return false
            }
            offset += n
        }
        written += Int64(bytes.count)
        if written - flushedTo >= Self.writebackStep {
            // Start writing the finished part to disk now, so the fsync before the blob is moved
            // into place waits for little (the bytes are the same; this only starts I/O early).
            _ = berth_start_writeback(fd, flushedTo, written - flushedTo)
            flushedTo = written
        }
        return true
    }

    /// Bytes written so far, and how far write-back has been started.
    private var written: Int64 = 0
    private var flushedTo: Int64 = 0
    private static let writebackStep: Int64 = 16 << 20
}
