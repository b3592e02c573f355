import CArchive
import Foundation
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

extension LayerArchive {
    /// True when the file starts with a gzip, zstd, bzip2 or xz signature.
    public static func isCompressed(_ path: String) -> Bool {
        ArchiveSource.isCompressed(path)
    }

    /// Writes the uncompressed form of a layer file (gzip, zstd, bzip2, xz or already plain) to
    /// `outputPath` and returns the uncompressed digest (the diff ID) and size.
    public static func decompress(layerAt path: String, to outputPath: String) throws(LayerArchiveError) -> LayerDigest
    {
        let out = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else {
            throw LayerArchiveError(path: outputPath, message: "create: \(String(cString: strerror(errno)))")
        }
        defer { close(out) }
        let source = try ArchiveSource(path: path)
        let archive = try source.openReader(raw: true)
        defer { archive_read_free(archive) }
        var hasher = DigestHasher()
        var entry: OpaquePointer?
        guard archive_read_next_header(archive, &entry) == ARCHIVE_OK else {
            throw LayerArchiveError(path: path, message: archiveErrorMessage(archive))
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { archive_read_data(archive, $0.baseAddress, $0.count) }
            if n < 0 {
                throw LayerArchiveError(
                    path: path, message: "decompress: \(archiveErrorMessage(archive))")
            }
            if n == 0 { break }
            var offset = 0
            while offset < n {
                let w = buffer[offset..<n].withUnsafeBytes { Glibc.write(out, $0.baseAddress, $0.count) }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw LayerArchiveError(path: outputPath, message: "write: \(String(cString: strerror(errno)))")
                }
                offset += w
            }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        guard hasher.byteCount > 0 else {
            throw LayerArchiveError(path: path, message: "the archive is empty")
        }
        return LayerDigest(diffID: hasher.finalize(), size: hasher.byteCount)
    }

    /// gzip-compresses `inputPath` into `outputPath`; returns the compressed blob's digest and size.
    public static func gzip(_ inputPath: String, to outputPath: String) throws(LayerArchiveError) -> LayerDigest {
        try compress(inputPath, to: outputPath, using: .gzip)
    }

    /// Compresses `inputPath` into `outputPath` with `compression`; returns the compressed blob's
    /// digest and size. The output depends only on the input (no names or timestamps).
    public static func compress(
        _ inputPath: String, to outputPath: String, using compression: LayerCompression
    ) throws(LayerArchiveError) -> LayerDigest {
        let input = open(inputPath, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            throw LayerArchiveError(path: inputPath, message: "open: \(String(cString: strerror(errno)))")
        }
        defer { close(input) }
        let out = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else {
            throw LayerArchiveError(path: outputPath, message: "create: \(String(cString: strerror(errno)))")
        }
        defer { close(out) }
        let sink = ArchiveSink(fd: out)
        defer { sink.finish() }
        guard let archive = archive_write_new() else {
            throw LayerArchiveError(path: outputPath, message: "out of memory")
        }
        defer { archive_write_free(archive) }
        switch compression {
        case .gzip:
            archive_write_add_filter_gzip(archive)
            // gzip without a name or timestamp, so the same input always gives the same blob.
            archive_write_set_filter_option(archive, "gzip", "timestamp", nil)
        case .zstd:
            guard archive_write_add_filter_zstd(archive) == ARCHIVE_OK else {
                throw LayerArchiveError(
                    path: outputPath, message: "zstd: \(archiveErrorMessage(archive))")
            }
        }
        archive_write_set_format_raw(archive)
        archive_write_set_bytes_per_block(archive, 0)
        let context = Unmanaged.passUnretained(sink).toOpaque()
        guard
            archive_write_open2(
                archive, context, nil,
                { archive, context, buffer, length in
                    guard let context, let buffer else { return -1 }
                    let sink = Unmanaged<ArchiveSink>.fromOpaque(context).takeUnretainedValue()
                    return sink.writeThrough(UnsafeRawBufferPointer(start: buffer, count: length), archive: archive)
                }, nil, nil) == ARCHIVE_OK
        else {
            throw LayerArchiveError(path: outputPath, message: archiveErrorMessage(archive))
        }
        guard let entry = archive_entry_new() else {
            throw LayerArchiveError(path: outputPath, message: "out of memory")
        }
        defer { archive_entry_free(entry) }
        archive_entry_set_filetype(entry, UInt32(Glibc.S_IFREG))
        archive_write_header(archive, entry)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LayerArchiveError(path: inputPath, message: "read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            let w = buffer.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, n) }
            guard w == n else {
                throw LayerArchiveError(path: outputPath, message: archiveErrorMessage(archive))
            }
        }
        guard archive_write_close(archive) == ARCHIVE_OK, sink.finish() else {
            let message = sink.failure != 0 ? String(cString: strerror(sink.failure)) : archiveErrorMessage(archive)
            throw LayerArchiveError(path: outputPath, message: message)
        }
        return LayerDigest(diffID: sink.hasher.finalize(), size: sink.hasher.byteCount)
    }
}

/// How a layer blob is compressed for distribution.
public enum LayerCompression: String, Sendable, CaseIterable {
    case gzip
    case zstd

    /// The OCI media type of a layer compressed this way.
    public var ociMediaType: String {
        switch self {
        case .gzip: MediaType.ociLayerGzip
        case .zstd: MediaType.ociLayerZstd
        }
    }
}
