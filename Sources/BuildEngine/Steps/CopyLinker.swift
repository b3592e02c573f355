import ContainerRuntime
import Foundation
import ImageStore

#if canImport(Glibc)
    import Glibc
#endif

/// Reuses what the previous run of the same COPY wrote: a regular file whose content (by
/// digest), size, permissions, owner and mtime equal those of the file that run placed at the
/// same path is hard-linked from that run's snapshot instead of being copied again. Committed
/// snapshots never change, so both snapshots can share the inode; the layer tar is byte for byte
/// the one a copy would give (a tar records no link counts, and the writer only makes hardlink
/// entries for names of one inode inside the same layer).
///
/// Every file the copy writes into the upper directory is recorded with its digest and how it
/// was placed (size, mtime, owner, permissions) in a manifest (``manifestName`` in the snapshot's
/// directory), which the next run reads: deciding to link costs no system call but the link.
final class CopyLinker: @unchecked Sendable {  // the lock guards the manifest
    /// The file in a snapshot's directory (beside `fs/`) listing what a COPY placed.
    static let manifestName = "copied"
    private static let magic = Array("berth-copied 2\n".utf8)

    /// What an earlier COPY placed: the snapshot's upper directory and its manifest.
    struct Previous {
        var root: String
        var placed: Manifest
    }

    /// A manifest as read: its bytes, and each path (relative to the upper directory) → where
    /// the file's record (raw SHA-256, then ``Placed``) starts in them (keys are slices of the
    /// same bytes: no copy each).
    struct Manifest {
        let bytes: [UInt8]
        let recordOffsets: [ArraySlice<UInt8>: Int]

        /// The raw SHA-256 and placement recorded for `path`, if any.
        func record(of path: [UInt8]) -> (digest: ArraySlice<UInt8>, placed: ArraySlice<UInt8>)? {
            recordOffsets[path[...]].map { (bytes[$0..<($0 + 32)], bytes[($0 + 32)..<($0 + 32 + Placed.size)]) }
        }
    }

    /// How a file was placed, as the manifest records it: what a link must match.
    struct Placed {
        static let size = 32
        var bytes: [UInt8]

        init(source: stat, uid: uid_t, gid: gid_t, permissions: mode_t) {
            bytes = []
            bytes.reserveCapacity(Self.size)
            Self.append(UInt64(bitPattern: Int64(source.st_size)), 8, to: &bytes)
            Self.append(UInt64(bitPattern: Int64(source.st_mtim.tv_sec)), 8, to: &bytes)
            Self.append(UInt64(source.st_mtim.tv_nsec), 4, to: &bytes)
            Self.append(UInt64(uid), 4, to: &bytes)
            Self.append(UInt64(gid), 4, to: &bytes)
            Self.append(UInt64(permissions), 4, to: &bytes)
        }

        private static func append(_ value: UInt64, _ count: Int, to bytes: inout [UInt8]) {
            for index in 0..<count { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
        }
    }

    /// The upper directory being written (only paths below it are linked or recorded).
    let upperRoot: String
    let digests: ContentHash.DigestIndex
    let previous: Previous?
    private let lock = NSLock()
    private var manifest: [UInt8] = []

    /// Called from several threads once made (``FileCopier`` places files in parallel).
    init(upperRoot: String, digests: ContentHash.DigestIndex, previous: Previous?) {
        self.upperRoot = upperRoot
        self.digests = digests
        self.previous = previous
        manifest = Self.magic
        digests.buildIndex()
    }

    /// The directories a thread links between, kept open while it stays in one directory (files
    /// come grouped by directory), so each link resolves one name instead of two whole paths.
    /// One per thread (never shared, hence `@unchecked Sendable`); closed when dropped.
    final class Directories: @unchecked Sendable {
        fileprivate var relative: [UInt8]?
        fileprivate var previous: Int32 = -1
        fileprivate var upper: Int32 = -1

        init() {}

        fileprivate func close() {
            if previous >= 0 { Glibc.close(previous) }
            if upper >= 0 { Glibc.close(upper) }
            previous = -1
            upper = -1
            relative = nil
        }

        deinit { close() }
    }

    /// Links `target` (a path in the upper directory) to the previous run's file at the same
    /// path when the manifest says that file is the one the copy would write: the source
    /// described by `source` (hashed as it is now), owned by `uid:gid`, with `permissions`.
    /// Returns whether it did; when it did not, the caller copies. `directories` is the calling
    /// thread's own.
    func link(
        source: stat, to target: String, uid: uid_t, gid: gid_t, permissions: mode_t, directories: Directories
    ) -> Bool {
        guard let relative = relativePath(target), let digest = digests.digest(of: source),
            let previous, let earlier = previous.placed.record(of: relative), earlier.digest.elementsEqual(digest)
        else { return false }
        let placed = Placed(source: source, uid: uid, gid: gid, permissions: permissions)
        guard earlier.placed.elementsEqual(placed.bytes) else { return false }
        let slash = relative.lastIndex(of: UInt8(ascii: "/"))
        let directory = slash.map { Array(relative[..<$0]) } ?? []
        let name = (slash.map { Array(relative[($0 + 1)...]) } ?? relative) + [0]
        if directories.relative != directory {
            directories.close()
            let suffix = directory.isEmpty ? "" : "/" + String(decoding: directory, as: UTF8.self)
            directories.previous = open(previous.root + suffix, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            directories.upper = open(upperRoot + suffix, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            directories.relative = directory
        }
        guard directories.previous >= 0, directories.upper >= 0 else { return false }
        return name.withUnsafeBufferPointer { raw -> Bool in
            guard let cName = UnsafeRawPointer(raw.baseAddress)?.assumingMemoryBound(to: CChar.self) else {
                return false
            }
            // EMLINK (an inode shared by very many snapshots), a removed snapshot, anything else:
            // the caller copies.
            guard linkat(directories.previous, cName, directories.upper, cName, 0) == 0 else { return false }
            record(relative, digest, placed)
            return true
        }
    }

    /// Records a file the caller copied from the source `source` describes, owned by `uid:gid`
    /// with `permissions`. `input` is the descriptor it read: the file is recorded only if it
    /// still has the identity it had when it was hashed (nothing wrote to it in between), so the
    /// manifest never claims bytes it lacks.
    func copied(source: stat, input: Int32, to target: String, uid: uid_t, gid: gid_t, permissions: mode_t) {
        guard let relative = relativePath(target), let digest = digests.digest(of: source) else { return }
        var now = stat()
        guard fstat(input, &now) == 0, ContentHash.DigestIndex.FileKey(now) == .init(source) else { return }
        record(relative, digest, Placed(source: source, uid: uid, gid: gid, permissions: permissions))
    }

    /// Writes the manifest into `directory` (the active snapshot's directory).
    func writeManifest(into directory: String) throws {
        let path = directory + "/" + Self.manifestName
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw BuildError("create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard FileSystem.writeAll(fd, lock.withLock { manifest }) else {
            throw BuildError("write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Reads the manifest of the snapshot directory `directory`; nil when it has none or it is
    /// not one this version wrote (the copy then simply copies).
    static func readManifest(in directory: String) -> Manifest? {
        guard let data = FileManager.default.contents(atPath: directory + "/" + manifestName) else { return nil }
        let bytes = [UInt8](data)
        guard bytes.starts(with: magic) else { return nil }
        var offsets: [ArraySlice<UInt8>: Int] = [:]
        offsets.reserveCapacity(bytes.count / 64)
        var offset = magic.count
        while offset < bytes.count {
            guard offset + 2 <= bytes.count else { return nil }
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
            let pathEnd = offset + 2 + length
            guard pathEnd + 32 + Placed.size <= bytes.count else { return nil }
            offsets[bytes[(offset + 2)..<pathEnd]] = pathEnd
            offset = pathEnd + 32 + Placed.size
        }
        return Manifest(bytes: bytes, recordOffsets: offsets)
    }

    /// `target` below the upper directory, as bytes; nil outside it or too long for a record.
    private func relativePath(_ target: String) -> [UInt8]? {
        guard let relative = target.relativePath(under: upperRoot).map({ Array($0.utf8) }),
            relative.count <= Int(UInt16.max)
        else { return nil }
        return relative
    }

    private func record(_ relative: [UInt8], _ digest: [UInt8], _ placed: Placed) {
        lock.withLock {
            manifest.append(UInt8(relative.count & 0xff))
            manifest.append(UInt8(relative.count >> 8))
            manifest += relative
            manifest += digest.prefix(32)
            manifest += placed.bytes
        }
    }
}
