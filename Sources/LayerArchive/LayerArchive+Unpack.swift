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
struct Unpacker {
    let archivePath: String
    let label: String
    let directory: String
    let mode: WhiteoutMode

    func run() throws(LayerArchiveError) -> LayerDigest {
        let rootFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else {
            throw LayerArchiveError(path: directory, message: "open target: \(String(cString: strerror(errno)))")
        }
        defer { close(rootFD) }
        let source = try ArchiveSource(path: archivePath)
        let archive = try source.openReader(raw: false)
        defer { archive_read_free(archive) }
        var directoryTimes: [(String, timespec)] = []
        var written = Set<String>()
        var entry: OpaquePointer?
        while true {
            let rc = archive_read_next_header(archive, &entry)
            if rc == ARCHIVE_EOF { break }
            guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN, let entry else {
                throw LayerArchiveError(
                    path: label, message: "corrupt archive: \(String(cString: archive_error_string(archive)))")
            }
            guard let rawName = archive_entry_pathname(entry) else { continue }
            let name = String(cString: rawName)
            let components = try Self.components(name, label: label)
            if components.isEmpty { continue }  // the root itself
            let relative = components.joined(separator: "/")
            let parentFD = try openParent(rootFD, components.dropLast(), entry: name)
            defer { close(parentFD) }
            let base = components[components.count - 1]
            if base == ".wh..wh..opq" {
                try opaque(
                    parentFD, parent: components.dropLast().joined(separator: "/"), written: written, entry: name)
                continue
            }
            if base.hasPrefix(".wh.") {
                try whiteout(parentFD, String(base.dropFirst(4)), entry: name)
                continue
            }
            try extract(entry, archive: archive, parentFD: parentFD, name: base, rootFD: rootFD, entryName: name)
            written.insert(relative)
            if (archive_entry_filetype(entry) & UInt32(Glibc.S_IFMT)) == UInt32(Glibc.S_IFDIR) {
                var time = timespec(
                    tv_sec: Int(archive_entry_mtime(entry)), tv_nsec: Int(archive_entry_mtime_nsec(entry)))
                if archive_entry_mtime_is_set(entry) == 0 { time = timespec(tv_sec: 0, tv_nsec: 0) }
                directoryTimes.append((relative, time))
            }
        }
        source.drain()
        // Directory mtimes last, deepest first, since extracting children changes them.
        for (relative, time) in directoryTimes.reversed() {
            var times = [time, time]
            utimensat(rootFD, relative, &times, AT_SYMLINK_NOFOLLOW)
        }
        return LayerDigest(diffID: source.hasher.finalize(), size: source.hasher.byteCount)
    }

    /// Splits an entry name into safe components: leading `/` and `./` dropped, `.` skipped,
    /// `..` refused.
    static func components(_ name: String, label: String) throws(LayerArchiveError) -> [String] {
        var result: [String] = []
        for component in name.split(separator: "/", omittingEmptySubsequences: true) {
            if component == "." { continue }
            if component == ".." {
                throw LayerArchiveError(
                    path: label, entry: name, message: "refused: the path contains '..' and would escape the target")
            }
            result.append(String(component))
        }
        return result
    }

    /// Opens the directory holding an entry, creating missing parents (0755) and refusing any
    /// component that is a symlink or not a directory.
    private func openParent(_ rootFD: Int32, _ components: ArraySlice<String>, entry: String) throws(LayerArchiveError)
        -> Int32
    {
        var current = dup(rootFD)
        for component in components {
            var next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 && errno == ENOENT {
                mkdirat(current, component, 0o755)
                next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if next < 0 {
                let code = errno
                close(current)
                let reason =
                    (code == ELOOP || code == ENOTDIR)
                    ? "refused: '\(component)' on the way is a symlink or not a directory, so the entry would land outside the target or in the wrong place"
                    : String(cString: strerror(code))
                throw LayerArchiveError(path: label, entry: entry, message: reason)
            }
            close(current)
            current = next
        }
        return current
    }

    private func whiteout(_ parentFD: Int32, _ name: String, entry: String) throws(LayerArchiveError) {
        guard !name.isEmpty, name != ".", name != ".." else {
            throw LayerArchiveError(path: label, entry: entry, message: "invalid whiteout")
        }
        try removeAll(parentFD, name)
        if mode == .overlay {
            guard mknodat(parentFD, name, Glibc.S_IFCHR | 0o000, 0) == 0 else {
                throw LayerArchiveError(
                    path: label, entry: entry, message: "create whiteout: \(String(cString: strerror(errno)))")
            }
        }
    }

    private func opaque(_ parentFD: Int32, parent: String, written: Set<String>, entry: String)
        throws(LayerArchiveError)
    {
        switch mode {
        case .overlay:
            guard fsetxattr(parentFD, "trusted.overlay.opaque", "y", 1, 0) == 0 else {
                throw LayerArchiveError(
                    path: label, entry: entry, message: "mark opaque: \(String(cString: strerror(errno)))")
            }
        case .apply:
            // Keep only what this layer itself put in the directory.
            let prefix = parent.isEmpty ? "" : parent + "/"
            for child in Self.children(parentFD) where !written.contains(prefix + child) {
                try removeAll(parentFD, child)
            }
        }
    }

    private func extract(
        _ entry: OpaquePointer, archive: OpaquePointer, parentFD: Int32, name: String, rootFD: Int32, entryName: String
    ) throws(LayerArchiveError) {
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
            let target = String(cString: hardlink)
            let targetComponents = try Self.components(target, label: label)
            guard !targetComponents.isEmpty else {
                throw LayerArchiveError(path: label, entry: entryName, message: "refused: hardlink to the target root")
            }
            let targetParent = try openParent(rootFD, targetComponents.dropLast(), entry: entryName)
            defer { close(targetParent) }
            var st = stat()
            guard fstatat(targetParent, targetComponents[targetComponents.count - 1], &st, AT_SYMLINK_NOFOLLOW) == 0
            else {
                throw LayerArchiveError(
                    path: label, entry: entryName,
                    message: "refused: hardlink target '\(target)' is not an earlier entry of this archive")
            }
            guard (st.st_mode & Glibc.S_IFMT) != Glibc.S_IFDIR else {
                throw LayerArchiveError(path: label, entry: entryName, message: "refused: hardlink to a directory")
            }
            try removeNonDirectory(parentFD, name)
            guard linkat(targetParent, targetComponents[targetComponents.count - 1], parentFD, name, 0) == 0 else {
                throw fail("hardlink")
            }
            return
        }
        switch type {
        case UInt32(Glibc.S_IFDIR):
            var st = stat()
            if fstatat(parentFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & Glibc.S_IFMT) != Glibc.S_IFDIR {
                try removeAll(parentFD, name)
            }
            if mkdirat(parentFD, name, 0o700) != 0 && errno != EEXIST { throw fail("create directory") }
        case UInt32(Glibc.S_IFREG):
            let size = archive_entry_size(entry)
            guard size >= 0, size <= maximumEntrySize else {
                throw LayerArchiveError(
                    path: label, entry: entryName, message: "refused: declared size \(size) bytes is implausibly large")
            }
            try removeNonDirectory(parentFD, name)
            let fd = openat(parentFD, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw fail("create file") }
            defer { close(fd) }
            try writeData(archive, to: fd, size: size, entry: entryName)
        case UInt32(Glibc.S_IFLNK):
            guard let link = archive_entry_symlink(entry) else {
                throw LayerArchiveError(path: label, entry: entryName, message: "symlink without a target")
            }
            try removeNonDirectory(parentFD, name)
            guard symlinkat(link, parentFD, name) == 0 else { throw fail("create symlink") }
        case UInt32(Glibc.S_IFIFO), UInt32(Glibc.S_IFCHR), UInt32(Glibc.S_IFBLK):
            try removeNonDirectory(parentFD, name)
            let device = DeviceNumber.make(
                major: UInt(archive_entry_rdevmajor(entry)), minor: UInt(archive_entry_rdevminor(entry)))
            guard mknodat(parentFD, name, mode_t(type) | permissions, device) == 0 else { throw fail("create node") }
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
            entry, parentFD: parentFD, name: name, isSymlink: type == UInt32(Glibc.S_IFLNK), entryName: entryName)
        if type != UInt32(Glibc.S_IFDIR) {
            if archive_entry_mtime_is_set(entry) == 0 { mtime = timespec(tv_sec: 0, tv_nsec: 0) }
            var times = [mtime, mtime]
            utimensat(parentFD, name, &times, AT_SYMLINK_NOFOLLOW)
        }
    }

    private func writeData(_ archive: OpaquePointer, to fd: Int32, size: Int64, entry: String) throws(LayerArchiveError)
    {
        var block: UnsafeRawPointer?
        var length = 0
        var offset: Int64 = 0
        while true {
            let rc = archive_read_data_block(archive, &block, &length, &offset)
            if rc == ARCHIVE_EOF { break }
            guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN else {
                throw LayerArchiveError(
                    path: label, entry: entry, message: "read data: \(String(cString: archive_error_string(archive)))")
            }
            guard offset >= 0, length == 0 || offset + Int64(length) <= size else {
                throw LayerArchiveError(path: label, entry: entry, message: "refused: data beyond the declared size")
            }
            guard let block else { continue }
            // All-zero 4 KiB pieces become holes: files stay sparse, whatever the tar's encoding.
            var piece = 0
            while piece < length {
                let count = min(4096, length - piece)
                let bytes = UnsafeRawBufferPointer(start: block + piece, count: count)
                if !bytes.allSatisfy({ $0 == 0 }) {
                    var done = 0
                    while done < count {
                        let n = pwrite(fd, bytes.baseAddress! + done, count - done, off_t(offset) + off_t(piece + done))
                        if n < 0 {
                            if errno == EINTR { continue }
                            throw LayerArchiveError(
                                path: label, entry: entry, message: "write: \(String(cString: strerror(errno)))")
                        }
                        done += n
                    }
                }
                piece += count
            }
        }
        // Sparse files end in a hole: set the size explicitly.
        guard ftruncate(fd, off_t(size)) == 0 else {
            throw LayerArchiveError(path: label, entry: entry, message: "truncate: \(String(cString: strerror(errno)))")
        }
    }

    private func applyXattrs(_ entry: OpaquePointer, parentFD: Int32, name: String, isSymlink: Bool, entryName: String)
        throws(LayerArchiveError)
    {
        guard archive_entry_xattr_reset(entry) > 0 else { return }
        var key: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(entry, &key, &value, &size) == ARCHIVE_OK, let key {
            let attribute = String(cString: key)
            if attribute.hasPrefix("trusted.overlay.") { continue }  // never let a layer forge overlay state
            if isSymlink && attribute.hasPrefix("user.") { continue }  // not allowed on symlinks
            let path = "/proc/self/fd/\(parentFD)/\(name)"
            if lsetxattr(path, attribute, value, size, 0) != 0 {
                throw LayerArchiveError(
                    path: label, entry: entryName,
                    message: "set xattr \(attribute): \(String(cString: strerror(errno)))")
            }
        }
    }

    private func removeNonDirectory(_ parentFD: Int32, _ name: String) throws(LayerArchiveError) {
        var st = stat()
        guard fstatat(parentFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        try removeAll(parentFD, name)
    }

    /// Removes `name` under `parentFD`, recursively for directories, never following symlinks.
    private func removeAll(_ parentFD: Int32, _ name: String) throws(LayerArchiveError) {
        var st = stat()
        guard fstatat(parentFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if (st.st_mode & Glibc.S_IFMT) == Glibc.S_IFDIR {
            let fd = openat(parentFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                for child in Self.children(fd) { try removeAll(fd, child) }
                close(fd)
            }
            guard unlinkat(parentFD, name, AT_REMOVEDIR) == 0 else {
                throw LayerArchiveError(
                    path: directory, entry: name, message: "remove: \(String(cString: strerror(errno)))")
            }
        } else if unlinkat(parentFD, name, 0) != 0 {
            throw LayerArchiveError(
                path: directory, entry: name, message: "remove: \(String(cString: strerror(errno)))")
        }
    }

    static func children(_ fd: Int32) -> [String] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
