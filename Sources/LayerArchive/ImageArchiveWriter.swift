import CArchive
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writes an outer image archive (docker-archive / OCI layout tar) entry by entry: small JSON
/// files from memory and blobs streamed from disk. Entries get fixed metadata (mode 0644, root,
/// mtime 0) so the same image always gives the same archive bytes.
public final class ImageArchiveWriter {
    private let archive: OpaquePointer
    private let path: String
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)
    private var finished = false

    /// Creates (truncating) the archive at `path`; `-` writes to standard output.
    public init(path: String) throws(LayerArchiveWriterError) {
        guard let archive = archive_write_new() else { throw .init(path: path, message: "out of memory") }
        self.archive = archive
        self.path = path
        archive_write_set_format_pax_restricted(archive)
        archive_write_set_bytes_per_block(archive, 10240)
        let rc = path == "-" ? archive_write_open_fd(archive, 1) : archive_write_open_filename(archive, path)
        guard rc == ARCHIVE_OK else {
            let message = archiveErrorMessage(archive)
            archive_write_free(archive)
            throw .init(path: path, message: message)
        }
    }

    deinit {
        if !finished { archive_write_close(archive) }
        archive_write_free(archive)
    }

    /// Adds a directory entry.
    public func addDirectory(_ name: String) throws(LayerArchiveWriterError) {
        try writeHeader(name, size: 0, type: 0o040000, mode: 0o755)
    }

    /// Adds a file whose content is `bytes`.
    public func addFile(_ name: String, bytes: [UInt8]) throws(LayerArchiveWriterError) {
        try writeHeader(name, size: Int64(bytes.count), type: 0o100000, mode: 0o644)
        if let error = bytes.withUnsafeBytes({ writeData($0, name: name) }) { throw error }
    }

    /// Adds a file streamed from `source` on disk.
    public func addFile(_ name: String, contentsOf source: String) throws(LayerArchiveWriterError) {
        let fd = open(source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .init(path: source, message: String(cString: strerror(errno))) }
        defer { Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .init(path: source, message: String(cString: strerror(errno))) }
        try writeHeader(name, size: Int64(st.st_size), type: 0o100000, mode: 0o644)
        var remaining = Int64(st.st_size)
        while remaining > 0 {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .init(path: source, message: String(cString: strerror(errno)))
            }
            if n == 0 { throw .init(path: source, message: "file shrank while being archived") }
            let chunk = Int(min(Int64(n), remaining))
            let failure = buffer.withUnsafeBytes {
                writeData(UnsafeRawBufferPointer(rebasing: $0[0..<chunk]), name: name)
            }
            if let failure { throw failure }
            remaining -= Int64(chunk)
        }
    }

    /// Finishes the archive (writes the end-of-archive blocks).
    public func close() throws(LayerArchiveWriterError) {
        finished = true
        guard archive_write_close(archive) == ARCHIVE_OK else {
            throw .init(path: path, message: archiveErrorMessage(archive))
        }
    }

    private func writeHeader(_ name: String, size: Int64, type: mode_t, mode: mode_t) throws(LayerArchiveWriterError) {
        guard let entry = archive_entry_new() else { throw .init(path: path, message: "out of memory") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, name)
        archive_entry_set_size(entry, size)
        archive_entry_set_filetype(entry, UInt32(type))
        archive_entry_set_perm(entry, mode)
        archive_entry_set_mtime(entry, 0, 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        guard archive_write_header(archive, entry) == ARCHIVE_OK else {
            throw .init(path: path, message: "\(name): \(archiveErrorMessage(archive))")
        }
    }

    /// Writes `raw` as entry data; returns the error instead of throwing (it runs inside
    /// `withUnsafeBytes`).
    private func writeData(_ raw: UnsafeRawBufferPointer, name: String) -> LayerArchiveWriterError? {
        guard let base = raw.baseAddress else { return nil }
        var offset = 0
        while offset < raw.count {
            let n = archive_write_data(archive, base + offset, raw.count - offset)
            guard n > 0 else {
                return .init(path: path, message: "\(name): \(archiveErrorMessage(archive))")
            }
            offset += n
        }
        return nil
    }
}

/// A failure writing an image archive, naming the archive (or source file) and what went wrong.
public struct LayerArchiveWriterError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "writing \(path): \(message)" }
}
