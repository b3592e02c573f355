import Foundation
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

extension ImageStore {
    /// Path of a blob, whether or not it exists.
    public nonisolated func blobPath(_ digest: Digest) -> String {
        "\(root)/blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"
    }

    /// True when the blob is on disk.
    public nonisolated func hasBlob(_ digest: Digest) -> Bool {
        FileSystem.exists(blobPath(digest))
    }

    /// Stores `bytes` as a blob and records it; returns its descriptor.
    @discardableResult
    public func putBlob(_ bytes: [UInt8], mediaType: String) throws(StoreError) -> Descriptor {
        let digest = Digest.sha256(of: bytes)
        let path = blobPath(digest)
        if !FileSystem.exists(path) {
            try FileSystem.writeAtomically(bytes, to: path, temporary: temporaryPath("blob"))
        }
        try recordBlob(digest, size: Int64(bytes.count), mediaType: mediaType)
        return Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count))
    }

    /// Moves a finished temporary file into the blob store under `digest` (already computed by the
    /// writer while streaming), fsyncing it first.
    @discardableResult
    public func ingestFile(
        at temporary: String, digest: Digest, size: Int64, mediaType: String
    ) throws(StoreError) -> Descriptor {
        let path = blobPath(digest)
        if FileSystem.exists(path) {
            unlink(temporary)
        } else {
            let fd = open(temporary, O_RDONLY | O_CLOEXEC)
            if fd >= 0 {
                fsync(fd)
                close(fd)
            }
            guard rename(temporary, path) == 0 else {
                throw .io(path: path, operation: "move blob into place", errno: errno)
            }
        }
        try recordBlob(digest, size: size, mediaType: mediaType)
        return Descriptor(mediaType: mediaType, digest: digest, size: size)
    }

    /// Reads a blob and verifies its digest.
    public func readBlob(_ digest: Digest) throws(StoreError) -> [UInt8] {
        let path = blobPath(digest)
        guard FileSystem.exists(path) else { throw .blobNotFound(digest.description) }
        let bytes = try FileSystem.read(path)
        guard digest.matches(bytes) else {
            throw .digestMismatch(
                expected: digest.description, actual: Digest.sha256(of: bytes).description, path: path)
        }
        return bytes
    }

    private func recordBlob(_ digest: Digest, size: Int64, mediaType: String) throws(StoreError) {
        try db.query(
            "INSERT OR IGNORE INTO blobs(digest, size, media_type, created) VALUES(?, ?, ?, ?)",
            [.text(digest.description), .integer(size), .text(mediaType), .integer(Self.now)])
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }
}
