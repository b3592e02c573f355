import CArchive
import Foundation
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

extension LayerArchive {
    /// Unpacks a layer tar (uncompressed, gzip, zstd, bzip2 or xz) into `directory`.
    ///
    /// Every entry is placed relative to a directory descriptor, one path component at a time,
    /// never following a symlink: an entry with `..`, an absolute path that would escape, a path
    /// through a symlink, or a hardlink to something outside is refused, and nothing is ever
    /// written outside `directory`. Returns the diff ID (the uncompressed tar's digest).
    public static func unpack(
        layerAt path: String, into directory: String, mode: WhiteoutMode
    ) throws(LayerArchiveError) -> LayerDigest {
        if ArchiveSource.isCompressed(path) {
            let plain = directory + "/../.unpack-\(UUID().uuidString.lowercased()).tar"
            defer { unlink(plain) }
            let digest = try decompress(layerAt: path, to: plain)
            _ = try Unpacker(archivePath: plain, label: path, directory: directory, mode: mode).run()
            return digest
        }
        return try Unpacker(archivePath: path, label: path, directory: directory, mode: mode).run()
    }
}

/// Largest file size a layer entry may declare (guards against sparse-size bombs).
let maximumEntrySize: Int64 = 1 << 40

/// Extracts one tar into a directory with `*at` system calls relative to a root descriptor.
///
/// Names are handled as raw bytes (see ``PathBytes``) and libarchive runs in the C locale
/// (``withCLocale(_:)``), so an entry lands under exactly the bytes its header holds, UTF-8 or not.
struct Unpacker {
    let archivePath: String
    let label: String
    let directory: String
    let mode: WhiteoutMode
    /// The directory the previous entry went into, kept open for the next one.
    private let parents = ParentCache()

    private static let whiteoutPrefix = Array(".wh.".utf8)
    private static let opaqueMarker = Array(".wh..wh..opq".utf8)
    private static let overlayXattrPrefix = Array("trusted.overlay.".utf8)
    private static let userXattrPrefix = Array("user.".utf8)

    /// The parent directory of the previous entry, open. Consecutive entries of a layer mostly
    /// share their parent, so it is reused instead of walked again from the root. Anything that
    /// removes entries (whiteouts, opaque markers, replacements) marks it stale: a directory on
    /// its path may be gone, and the next entry walks from the root again. The descriptor is only
    /// closed when the next entry replaces it, never while an entry still uses it.
    private final class ParentCache {
        var components: [[UInt8]] = []
        var fd: Int32 = -1
        var stale = false

        deinit { if fd >= 0 { close(fd) } }
    }

    /// What the entries read so far left to do at the end.
    private final class Progress {
        /// Directories extracted, with their mtimes, in archive order.
        var directoryTimes: [([UInt8], timespec)] = []
        /// Paths this layer extracted (for opaque directories in `.apply` mode).
        var written = Set<[UInt8]>()
    }

    func run() throws(LayerArchiveError) -> LayerDigest {
        let rootFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else {
            throw LayerArchiveError(path: directory, message: "open target: \(String(cString: strerror(errno)))")
        }
        defer { close(rootFD) }
        return try withCLocale { () throws(LayerArchiveError) -> LayerDigest in
            let source = try ArchiveSource(path: archivePath)
            let archive: OpaquePointer
            do throws(LayerArchiveError) {
                archive = try source.openReader(raw: false)
            } catch {
                // Name the layer, not the decompressed temporary.
                throw LayerArchiveError(path: label, message: error.message)
            }
            defer { archive_read_free(archive) }
            let progress = Progress()
            var entry: OpaquePointer?
            while true {
                let rc = archive_read_next_header(archive, &entry)
                if rc == ARCHIVE_EOF { break }
                // ARCHIVE_WARN includes "can't be converted to the current locale": the name is
                // then the header's bytes as they are, which is what we want.
                guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN, let entry else {
                    throw LayerArchiveError(
                        path: label, message: "corrupt archive: \(archiveErrorMessage(archive))")
                }
                try place(entry, archive: archive, rootFD: rootFD, progress: progress)
            }
            source.drain()
            // Directory mtimes last, deepest first, since extracting children changes them.
            for (relative, time) in progress.directoryTimes.reversed() {
                setTime(time, of: relative, rootFD: rootFD)
            }
            return LayerDigest(diffID: source.hasher.finalize(), size: source.hasher.byteCount)
        }
    }

    /// Handles one entry: a whiteout, an opaque marker or something to extract.
    private func place(_ entry: OpaquePointer, archive: OpaquePointer, rootFD: Int32, progress: Progress)
        throws(LayerArchiveError)
    {
        let name = try Self.pathname(entry, label: label)
        let entryName = PathBytes.display(name)
        let components = try Self.components(name, label: label)
        if components.isEmpty { return }  // the root itself
        let relative = PathBytes.joined(components)
        let parentFD = try cachedParent(rootFD, components.dropLast(), entry: entryName)
        let base = components[components.count - 1]
        if base == Self.opaqueMarker {
            try opaque(
                parentFD, parent: PathBytes.joined(components.dropLast()), written: progress.written, entry: entryName)
            return
        }
        if base.starts(with: Self.whiteoutPrefix) {
            try whiteout(parentFD, Array(base.dropFirst(Self.whiteoutPrefix.count)), entry: entryName)
            return
        }
        try extract(entry, archive: archive, parentFD: parentFD, name: base, rootFD: rootFD, entryName: entryName)
        progress.written.insert(relative)
        if (archive_entry_filetype(entry) & UInt32(Glibc.S_IFMT)) == UInt32(Glibc.S_IFDIR) {
            var time = timespec(tv_sec: Int(archive_entry_mtime(entry)), tv_nsec: Int(archive_entry_mtime_nsec(entry)))
            if archive_entry_mtime_is_set(entry) == 0 { time = timespec(tv_sec: 0, tv_nsec: 0) }
            progress.directoryTimes.append((relative, time))
        }
    }

    /// Sets the times of the directory an entry created at `relative`, reached one component at
    /// a time without following symlinks: a later entry may have replaced a parent with a symlink
    /// (`a/`, `a/b/`, then `a -> /etc`), and a path walk by the kernel would then touch `/etc/b`.
    /// Nothing is set when the directory is no longer reachable that way.
    private func setTime(_ time: timespec, of relative: [UInt8], rootFD: Int32) {
        let components = relative.split(separator: PathBytes.slash).map { Array($0) }
        guard let base = components.last else { return }
        var current = dup(rootFD)
        for component in components.dropLast() {
            let next = openat(current, PathBytes.cString(component), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            close(current)
            guard next >= 0 else { return }
            current = next
        }
        defer { close(current) }
        var times = [time, time]
        utimensat(current, PathBytes.cString(base), &times, AT_SYMLINK_NOFOLLOW)
    }

    /// The entry's name as the header's bytes. libarchive gives no name only when it could
    /// neither convert nor copy one; such an entry is refused rather than skipped.
    static func pathname(_ entry: OpaquePointer, label: String) throws(LayerArchiveError) -> [UInt8] {
        if let raw = archive_entry_pathname(entry) { return PathBytes.bytes(raw) }
        if let utf8 = archive_entry_pathname_utf8(entry) { return PathBytes.bytes(utf8) }
        throw LayerArchiveError(path: label, message: "an entry's name could not be read")
    }

    /// Splits an entry name into safe components: leading `/` and `./` dropped, `.` skipped,
    /// `..` refused.
    static func components(_ name: [UInt8], label: String) throws(LayerArchiveError) -> [[UInt8]] {
        var result: [[UInt8]] = []
        for component in name.split(separator: PathBytes.slash, omittingEmptySubsequences: true) {
            if component.elementsEqual([0x2e]) { continue }
            if component.elementsEqual([0x2e, 0x2e]) {
                throw LayerArchiveError(
                    path: label, entry: PathBytes.display(name),
                    message: "refused: the path contains '..' and would escape the target")
            }
            result.append(Array(component))
        }
        return result
    }

    /// The directory holding an entry, from the cache when the previous entry had the same parent
    /// and nothing was removed since; otherwise opened by ``openParent(_:_:entry:)`` and cached.
    private func cachedParent(_ rootFD: Int32, _ components: ArraySlice<[UInt8]>, entry: String)
        throws(LayerArchiveError) -> Int32
    {
        if parents.fd >= 0, !parents.stale, parents.components.elementsEqual(components) { return parents.fd }
        if parents.fd >= 0 { close(parents.fd) }
        parents.fd = -1
        let fd = try openParent(rootFD, components, entry: entry)
        parents.fd = fd
        parents.components = Array(components)
        parents.stale = false
        return fd
    }

    /// Opens the directory holding an entry, creating missing parents (0755) and refusing any
    /// component that is a symlink or not a directory.
    private func openParent(_ rootFD: Int32, _ components: ArraySlice<[UInt8]>, entry: String)
        throws(LayerArchiveError) -> Int32
    {
        var current = dup(rootFD)
        for component in components {
            let name = PathBytes.cString(component)
            var next = openat(current, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 && errno == ENOENT {
                mkdirat(current, name, 0o755)
                next = openat(current, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if next < 0 {
                let code = errno
                close(current)
                let reason =
                    (code == ELOOP || code == ENOTDIR)
                    ? "refused: '\(PathBytes.display(component))' on the way is a symlink or not a directory, so the entry would land outside the target or in the wrong place"
                    : String(cString: strerror(code))
                throw LayerArchiveError(path: label, entry: entry, message: reason)
            }
            close(current)
            current = next
        }
        return current
    }

    private func whiteout(_ parentFD: Int32, _ name: [UInt8], entry: String) throws(LayerArchiveError) {
        guard !name.isEmpty, name != [0x2e], name != [0x2e, 0x2e] else {
            throw LayerArchiveError(path: label, entry: entry, message: "invalid whiteout")
        }
        try removeAll(parentFD, name)
        if mode == .overlay {
            guard mknodat(parentFD, PathBytes.cString(name), Glibc.S_IFCHR | 0o000, 0) == 0 else {
                throw LayerArchiveError(
                    path: label, entry: entry, message: "create whiteout: \(String(cString: strerror(errno)))")
            }
        }
    }

    private func opaque(_ parentFD: Int32, parent: [UInt8], written: Set<[UInt8]>, entry: String)
        throws(LayerArchiveError)
    {
        parents.stale = true
        switch mode {
        case .overlay:
            guard fsetxattr(parentFD, "trusted.overlay.opaque", "y", 1, 0) == 0 else {
                throw LayerArchiveError(
                    path: label, entry: entry, message: "mark opaque: \(String(cString: strerror(errno)))")
            }
        case .apply:
            // Keep only what this layer itself put in the directory.
            for child in PathBytes.children(ofDirectory: parentFD)
            where !written.contains(PathBytes.join(parent, child)) {
                try removeAll(parentFD, child)
            }
        }
    }

    private func extract(
        _ entry: OpaquePointer, archive: OpaquePointer, parentFD: Int32, name base: [UInt8], rootFD: Int32,
        entryName: String
    ) throws(LayerArchiveError) {
        let name = PathBytes.cString(base)
        let type = archive_entry_filetype(entry) & UInt32(Glibc.S_IFMT)
        let permissions = mode_t(archive_entry_perm(entry))
        let uid = uid_t(truncatingIfNeeded: archive_entry_uid(entry))
        let gid = gid_t(truncatingIfNeeded: archive_entry_gid(entry))
        var mtime = timespec(tv_sec: Int(archive_entry_mtime(entry)), tv_nsec: Int(archive_entry_mtime_nsec(entry)))
        let fail = { (what: String) -> LayerArchiveError in
            LayerArchiveError(
                path: self.label, entry: entryName, message: "\(what): \(String(cString: strerror(errno)))")
        }
        if let hardlink = archive_entry_hardlink(entry) {
            try link(PathBytes.bytes(hardlink), parentFD: parentFD, base: base, rootFD: rootFD, entryName: entryName)
            return
        }
        switch type {
        case UInt32(Glibc.S_IFDIR):
            var st = stat()
            if fstatat(parentFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & Glibc.S_IFMT) != Glibc.S_IFDIR {
                try removeAll(parentFD, base)
            }
            if mkdirat(parentFD, name, 0o700) != 0 && errno != EEXIST { throw fail("create directory") }
        case UInt32(Glibc.S_IFREG):
            let size = archive_entry_size(entry)
            guard size >= 0, size <= maximumEntrySize else {
                throw LayerArchiveError(
                    path: label, entry: entryName, message: "refused: declared size \(size) bytes is implausibly large")
            }
            let fd = try replacing(parentFD, base) {
                openat(parentFD, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            }
            guard fd >= 0 else { throw fail("create file") }
            defer { close(fd) }
            try writeData(archive, to: fd, size: size, entry: entryName)
        case UInt32(Glibc.S_IFLNK):
            // The target's bytes go to symlinkat untouched.
            guard let link = archive_entry_symlink(entry) ?? archive_entry_symlink_utf8(entry) else {
                throw LayerArchiveError(path: label, entry: entryName, message: "symlink without a target")
            }
            guard try replacing(parentFD, base, { symlinkat(link, parentFD, name) }) == 0 else {
                throw fail("create symlink")
            }
        case UInt32(Glibc.S_IFIFO), UInt32(Glibc.S_IFCHR), UInt32(Glibc.S_IFBLK):
            let device = DeviceNumber.make(
                major: UInt(archive_entry_rdevmajor(entry)), minor: UInt(archive_entry_rdevminor(entry)))
            guard try replacing(parentFD, base, { mknodat(parentFD, name, mode_t(type) | permissions, device) }) == 0
            else { throw fail("create node") }
        default:
            throw LayerArchiveError(
                path: label, entry: entryName, message: "unsupported entry type \(String(type, radix: 8))")
        }
        guard fchownat(parentFD, name, uid, gid, AT_SYMLINK_NOFOLLOW) == 0 else { throw fail("chown") }
        if type != UInt32(Glibc.S_IFLNK) {
            // chown clears setuid/setgid bits: set the mode afterwards.
            guard fchmodat(parentFD, name, permissions, 0) == 0 else { throw fail("chmod") }
        }
        try applyXattrs(
            entry, parentFD: parentFD, name: base, isSymlink: type == UInt32(Glibc.S_IFLNK), entryName: entryName)
        if type != UInt32(Glibc.S_IFDIR) {
            if archive_entry_mtime_is_set(entry) == 0 { mtime = timespec(tv_sec: 0, tv_nsec: 0) }
            var times = [mtime, mtime]
            utimensat(parentFD, name, &times, AT_SYMLINK_NOFOLLOW)
        }
    }

    /// Makes `base` under `parentFD` a hardlink to `target`, an earlier entry of this archive
    /// (a path from the root, walked like any entry's, so it cannot reach outside).
    private func link(_ target: [UInt8], parentFD: Int32, base: [UInt8], rootFD: Int32, entryName: String)
        throws(LayerArchiveError)
    {
        let targetComponents = try Self.components(target, label: label)
        guard let targetBase = targetComponents.last else {
            throw LayerArchiveError(path: label, entry: entryName, message: "refused: hardlink to the target root")
        }
        let targetParent = try openParent(rootFD, targetComponents.dropLast(), entry: entryName)
        defer { close(targetParent) }
        let targetName = PathBytes.cString(targetBase)
        var st = stat()
        guard fstatat(targetParent, targetName, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw LayerArchiveError(
                path: label, entry: entryName,
                message:
                    "refused: hardlink target '\(PathBytes.display(target))' is not an earlier entry of this archive")
        }
        guard (st.st_mode & Glibc.S_IFMT) != Glibc.S_IFDIR else {
            throw LayerArchiveError(path: label, entry: entryName, message: "refused: hardlink to a directory")
        }
        let name = PathBytes.cString(base)
        guard try replacing(parentFD, base, { linkat(targetParent, targetName, parentFD, name, 0) }) == 0 else {
            throw LayerArchiveError(
                path: label, entry: entryName, message: "hardlink: \(String(cString: strerror(errno)))")
        }
    }

    private func writeData(_ archive: OpaquePointer, to fd: Int32, size: Int64, entry: String) throws(LayerArchiveError)
    {
        var block: UnsafeRawPointer?
        var length = 0
        var offset: Int64 = 0
        var end: Int64 = 0  // where the last data written ends
        while true {
            let rc = archive_read_data_block(archive, &block, &length, &offset)
            if rc == ARCHIVE_EOF { break }
            guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN else {
                throw LayerArchiveError(
                    path: label, entry: entry, message: "read data: \(archiveErrorMessage(archive))")
            }
            guard offset >= 0, length == 0 || offset + Int64(length) <= size else {
                throw LayerArchiveError(path: label, entry: entry, message: "refused: data beyond the declared size")
            }
            guard let block else { continue }
            // All-zero 4 KiB pieces become holes: files stay sparse, whatever the tar's encoding.
            // Runs of data pieces between holes go out in one write each.
            var piece = 0
            var run = 0
            while piece < length {
                let count = min(4096, length - piece)
                if Self.isZero(block + piece, count) {
                    try write(block, from: run, to: piece, at: offset, fd: fd, entry: entry)
                    run = piece + count
                } else if piece + count == length {
                    try write(block, from: run, to: length, at: offset, fd: fd, entry: entry)
                }
                piece += count
            }
            if run < length { end = max(end, offset + Int64(length)) }
        }
        // Sparse files end in a hole: set the size explicitly.
        guard end == size || ftruncate(fd, off_t(size)) == 0 else {
            throw LayerArchiveError(path: label, entry: entry, message: "truncate: \(String(cString: strerror(errno)))")
        }
    }

    /// Writes bytes `from..<to` of a data block that starts at `offset` of the file.
    private func write(
        _ block: UnsafeRawPointer, from: Int, to: Int, at offset: Int64, fd: Int32, entry: String
    ) throws(LayerArchiveError) {
        var done = from
        while done < to {
            let n = pwrite(fd, block + done, to - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw LayerArchiveError(
                    path: label, entry: entry, message: "write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    /// Whether `count` bytes at `start` are all zero, eight at a time.
    private static func isZero(_ start: UnsafeRawPointer, _ count: Int) -> Bool {
        var index = 0
        while index + 8 <= count {
            if start.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
            index += 8
        }
        while index < count {
            if start.load(fromByteOffset: index, as: UInt8.self) != 0 { return false }
            index += 1
        }
        return true
    }

    private func applyXattrs(
        _ entry: OpaquePointer, parentFD: Int32, name: [UInt8], isSymlink: Bool, entryName: String
    ) throws(LayerArchiveError) {
        guard archive_entry_xattr_reset(entry) > 0 else { return }
        var key: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        let path = PathBytes.cString(Array("/proc/self/fd/\(parentFD)/".utf8) + name)
        while archive_entry_xattr_next(entry, &key, &value, &size) == ARCHIVE_OK, let key {
            let attribute = PathBytes.bytes(key)
            if attribute.starts(with: Self.overlayXattrPrefix) { continue }  // never let a layer forge overlay state
            if isSymlink && attribute.starts(with: Self.userXattrPrefix) { continue }  // not allowed on symlinks
            if lsetxattr(path, key, value, size, 0) != 0 {
                throw LayerArchiveError(
                    path: label, entry: entryName,
                    message: "set xattr \(PathBytes.display(attribute)): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Runs `create`, an `*at` call that fails with EEXIST when `name` is taken, and returns its
    /// result. Created first: only a name already taken (by anything, a directory too, as
    /// docker's applier replaces it) costs a removal and a second try.
    private func replacing(_ parentFD: Int32, _ name: [UInt8], _ create: () -> Int32) throws(LayerArchiveError)
        -> Int32
    {
        let result = create()
        guard result < 0, errno == EEXIST else { return result }
        try removeAll(parentFD, name)
        return create()
    }

    /// Removes `name` under `parentFD`, recursively for directories, never following symlinks.
    private func removeAll(_ parentFD: Int32, _ name: [UInt8]) throws(LayerArchiveError) {
        parents.stale = true
        let cName = PathBytes.cString(name)
        var st = stat()
        guard fstatat(parentFD, cName, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if (st.st_mode & Glibc.S_IFMT) == Glibc.S_IFDIR {
            let fd = openat(parentFD, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                defer { close(fd) }
                for child in PathBytes.children(ofDirectory: fd) { try removeAll(fd, child) }
            }
            guard unlinkat(parentFD, cName, AT_REMOVEDIR) == 0 else {
                throw LayerArchiveError(
                    path: directory, entry: PathBytes.display(name),
                    message: "remove: \(String(cString: strerror(errno)))")
            }
        } else if unlinkat(parentFD, cName, 0) != 0 {
            throw LayerArchiveError(
                path: directory, entry: PathBytes.display(name), message: "remove: \(String(cString: strerror(errno)))")
        }
    }
}
