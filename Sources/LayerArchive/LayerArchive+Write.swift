import CArchive
import Foundation
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

extension LayerArchive {
    /// True when `path` is an overlay directory marked opaque (`trusted.overlay.opaque=y`).
    public static func isOpaqueDirectory(_ path: String) -> Bool {
        TreeWriter.isOpaque(PathBytes.cString(Array(path.utf8)))
    }

    /// Writes the OCI layer tar of an overlayfs upper directory: overlay whiteouts (0:0 character
    /// devices) become `.wh.NAME` entries, and a directory marked `trusted.overlay.opaque=y` is
    /// followed by a `.wh..wh..opq` entry. Overlay-private xattrs are left out.
    public static func writeDiff(
        upperDirectory: String, to outputPath: String, options: LayerWriteOptions = .init()
    ) throws(LayerArchiveError) -> LayerDigest {
        try TreeWriter(
            root: upperDirectory, output: outputPath, options: options, overlayDiff: true, skipWhiteouts: false
        ).write()
    }

    /// Writes a whole tree as a tar (no whiteout conversion), e.g. for `export`.
    /// `skipOverlayWhiteouts` leaves out 0:0 character devices (whiteouts of a lone snapshot
    /// directory, which mean nothing once flattened).
    public static func writeTree(
        directory: String, to outputPath: String, options: LayerWriteOptions = .init(),
        skipOverlayWhiteouts: Bool = false
    ) throws(LayerArchiveError) -> LayerDigest {
        try TreeWriter(
            root: directory, output: outputPath, options: options, overlayDiff: false,
            skipWhiteouts: skipOverlayWhiteouts
        ).write()
    }
}

/// Walks a directory in sorted order and writes normalized tar entries: numeric owners only, no
/// atime or ctime, PAX headers only where needed, so one tree always gives the same bytes.
///
/// Entry names are raw bytes (see ``PathBytes``): a name that is not ASCII is stored as-is under
/// `hdrcharset=BINARY`, since the writer runs in the C locale (``withCLocale(_:)``).
struct TreeWriter {
    let root: String
    let output: String
    let options: LayerWriteOptions
    let overlayDiff: Bool
    let skipWhiteouts: Bool

    /// A file's identity, for finding the other names of a hardlinked file.
    private struct FileID: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private final class State {
        var links: [FileID: [UInt8]] = [:]  // → the first path written for that file
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        /// Started when a read found its data evicted (see ``TreeReadahead``).
        var readahead: TreeReadahead?
        /// The directory being written (its descriptor, sorted names, the entry's index), so
        /// read-ahead can start with the rest of it.
        var position: (directory: Int32, names: [[UInt8]], index: Int)?
        /// Cleared when the kernel cannot tell whether a read would wait (no RWF_NOWAIT).
        var probeCache = true
        /// Which of the last files read missed the page cache (read-ahead starts when many did).
        var misses = CacheMisses()

        deinit { readahead?.stop() }
    }

    private static let whiteoutPrefix = Array(".wh.".utf8)
    private static let opaqueMarker = Array(".wh..wh..opq".utf8)
    private static let overlayXattrPrefix = Array("trusted.overlay.".utf8)

    func write() throws(LayerArchiveError) -> LayerDigest {
        let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw LayerArchiveError(path: output, message: "create: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        return try withCLocale { () throws(LayerArchiveError) -> LayerDigest in
            let sink = ArchiveSink(fd: fd)
            defer { sink.finish() }
            let archive = try sink.openWriter(path: output)
            defer { archive_write_free(archive) }
            try write(into: archive, state: State())
            guard archive_write_close(archive) == ARCHIVE_OK, sink.finish() else {
                throw LayerArchiveError(
                    path: output,
                    message: sink.failure != 0
                        ? String(cString: strerror(sink.failure)) : archiveErrorMessage(archive))
            }
            return LayerDigest(diffID: sink.hasher.finalize(), size: sink.hasher.byteCount)
        }
    }

    /// The host path of `relative` (a path below the root; empty for the root itself).
    private func hostPath(_ relative: [UInt8]) -> [UInt8] {
        relative.isEmpty ? Array(root.utf8) : Array(root.utf8) + [PathBytes.slash] + relative
    }

    /// Where an entry is for system calls: a name in the directory open at `directory`, or, below
    /// ``maximumOpenDepth``, the whole host path (with `AT_FDCWD`), so a deep tree never holds more
    /// than that many descriptors.
    private struct Location {
        var directory: Int32
        var name: [CChar]
    }

    /// How many directory levels stay open during the walk.
    private static let maximumOpenDepth = 128

    private func write(into archive: OpaquePointer, state: State) throws(LayerArchiveError) {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.failure(PathBytes.cString(Array(root.utf8)), "open directory") }
        defer { close(fd) }
        try walk([], directory: fd, depth: 0, archive: archive, state: state)
    }

    /// Writes the children of `relative` (a directory path relative to the root, empty for the
    /// root), which is open at `directory` (`AT_FDCWD` when the walk is too deep to hold it open).
    /// System calls go relative to that descriptor: one name to resolve instead of the whole path.
    private func walk(
        _ relative: [UInt8], directory: Int32, depth: Int, archive: OpaquePointer, state: State
    ) throws(LayerArchiveError) {
        let names =
            directory == AT_FDCWD
            ? try Self.sortedChildren(hostPath(relative))
            : try Self.sortedChildren(directory, display: hostPath(relative))
        if directory != AT_FDCWD { state.readahead?.follow(directory: directory, names: names) }
        for (index, name) in names.enumerated() {
            state.position = directory == AT_FDCWD ? nil : (directory, names, index)
            let path = PathBytes.join(relative, name)
            if !options.excludedPaths.isEmpty, options.excludedPaths.contains(String(decoding: path, as: UTF8.self)) {
                continue
            }
            let host = PathBytes.cString(hostPath(path))
            let location =
                directory == AT_FDCWD
                ? Location(directory: AT_FDCWD, name: host)
                : Location(directory: directory, name: PathBytes.cString(name))
            var st = stat()
            guard fstatat(location.directory, location.name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw Self.failure(host, "stat")
            }
            let type = st.st_mode & Glibc.S_IFMT
            if skipWhiteouts && type == Glibc.S_IFCHR && st.st_rdev == 0 { continue }
            if overlayDiff && type == Glibc.S_IFCHR && st.st_rdev == 0 {
                try writeWhiteout(PathBytes.join(relative, Self.whiteoutPrefix + name), archive: archive)
                continue
            }
            switch type {
            case Glibc.S_IFDIR:
                let deeper = depth + 1 < Self.maximumOpenDepth
                let fd = openat(
                    location.directory, location.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { throw Self.failure(host, "open directory") }
                defer { close(fd) }
                try writeEntry(path, host: host, open: fd, status: st, archive: archive, state: state)
                if overlayDiff && Self.isOpaque(fd: fd) {
                    try writeWhiteout(PathBytes.join(path, Self.opaqueMarker), archive: archive)
                }
                try walk(path, directory: deeper ? fd : AT_FDCWD, depth: depth + 1, archive: archive, state: state)
            case Glibc.S_IFREG:
                let fd = openat(location.directory, location.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { throw Self.failure(host, "open") }
                defer { close(fd) }
                try writeEntry(path, host: host, open: fd, status: st, archive: archive, state: state)
            default:
                try writeEntry(path, host: host, open: nil, status: st, archive: archive, state: state)
            }
        }
    }

    private func writeWhiteout(_ name: [UInt8], archive: OpaquePointer) throws(LayerArchiveError) {
        guard let entry = archive_entry_new() else { throw LayerArchiveError(path: output, message: "out of memory") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, PathBytes.cString(name))
        archive_entry_set_filetype(entry, UInt32(Glibc.S_IFREG))
        archive_entry_set_perm(entry, 0)
        archive_entry_set_size(entry, 0)
        archive_entry_set_mtime(entry, 0, 0)
        try writeHeader(entry, archive: archive, name: name)
    }

    /// Writes an entry's header. `ARCHIVE_WARN` is success: it is how the PAX writer says a name
    /// was not UTF-8 in the C locale and went out raw under `hdrcharset=BINARY`.
    private func writeHeader(_ entry: OpaquePointer, archive: OpaquePointer, name: [UInt8])
        throws(LayerArchiveError)
    {
        let rc = archive_write_header(archive, entry)
        guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN else {
            throw LayerArchiveError(
                path: output, entry: PathBytes.display(name), message: archiveErrorMessage(archive))
        }
    }

    /// Writes one entry. `open` is the entry's descriptor for a directory or regular file (its
    /// extended attributes and data are read through it), nil for other types (read by `host`).
    private func writeEntry(
        _ path: [UInt8], host: [CChar], open fd: Int32?, status st: stat, archive: OpaquePointer, state: State
    ) throws(LayerArchiveError) {
        guard let entry = archive_entry_new() else { throw LayerArchiveError(path: output, message: "out of memory") }
        defer { archive_entry_free(entry) }
        let type = st.st_mode & Glibc.S_IFMT
        archive_entry_set_pathname(entry, PathBytes.cString(type == Glibc.S_IFDIR ? path + [PathBytes.slash] : path))
        archive_entry_set_perm(entry, st.st_mode & 0o7777)
        archive_entry_set_uid(entry, Int64(st.st_uid))
        archive_entry_set_gid(entry, Int64(st.st_gid))
        setMtime(entry, st)
        let attributes = fd.map { Self.xattrs(fd: $0) } ?? Self.xattrs(host)
        for (name, value) in attributes where !name.starts(with: Self.overlayXattrPrefix) {
            value.withUnsafeBytes {
                archive_entry_xattr_add_entry(entry, PathBytes.cString(name), $0.baseAddress, $0.count)
            }
        }
        var isHardlink = false
        switch type {
        case Glibc.S_IFREG:
            archive_entry_set_filetype(entry, UInt32(Glibc.S_IFREG))
            isHardlink = linkToEarlier(entry, path, st, state: state)
            if !isHardlink {
                archive_entry_set_size(entry, Int64(st.st_size))
                if let fd, options.preserveHoles && Int64(st.st_blocks) * 512 < Int64(st.st_size) {
                    for region in Self.dataRegions(fd, size: Int64(st.st_size)) ?? [] {
                        archive_entry_sparse_add_entry(entry, region.offset, region.length)
                    }
                }
            }
        case Glibc.S_IFDIR:
            archive_entry_set_filetype(entry, UInt32(Glibc.S_IFDIR))
        case Glibc.S_IFLNK:
            archive_entry_set_filetype(entry, UInt32(Glibc.S_IFLNK))
            archive_entry_set_symlink(entry, PathBytes.cString(try Self.readLink(host)))
        case Glibc.S_IFIFO:
            archive_entry_set_filetype(entry, UInt32(Glibc.S_IFIFO))
        case Glibc.S_IFCHR, Glibc.S_IFBLK:
            archive_entry_set_filetype(entry, UInt32(type))
            archive_entry_set_rdevmajor(entry, DeviceNumber.major(st.st_rdev))
            archive_entry_set_rdevminor(entry, DeviceNumber.minor(st.st_rdev))
        default:
            return  // sockets have no tar form
        }
        try writeHeader(entry, archive: archive, name: path)
        if let fd, type == Glibc.S_IFREG && !isHardlink && st.st_size > 0 {
            try copyData(fd, host, size: Int64(st.st_size), archive: archive, state: state, entry: path)
        }
    }

    /// The data regions of a file with holes (SEEK_DATA / SEEK_HOLE), or nil when it has none or
    /// the file system cannot say. The data written for the entry is still the whole file; the
    /// archive writer leaves out the holes.
    /// The file's position is left anywhere (the data is read with `pread`).
    static func dataRegions(_ fd: Int32, size: Int64) -> [(offset: Int64, length: Int64)]? {
        let seekData: Int32 = 3  // SEEK_DATA
        let seekHole: Int32 = 4  // SEEK_HOLE
        var regions: [(offset: Int64, length: Int64)] = []
        var offset: Int64 = 0
        while offset < size {
            let data = lseek(fd, off_t(offset), seekData)
            if data < 0 {
                if errno == ENXIO { break }  // only a hole remains
                return nil
            }
            let hole = lseek(fd, data, seekHole)
            guard hole >= 0 else { return nil }
            let end = min(Int64(hole), size)
            regions.append((Int64(data), end - Int64(data)))
            offset = end
        }
        if regions.count == 1 && regions[0].offset == 0 && regions[0].length == size { return nil }
        // A map ending in a hole records the file's end as an empty region, as GNU tar does.
        if regions.last.map({ $0.offset + $0.length }) != size { regions.append((size, 0)) }
        return regions
    }

    /// Sets the mtime, clamped to SOURCE_DATE_EPOCH when one is given.
    private func setMtime(_ entry: OpaquePointer, _ st: stat) {
        var mtime = Int64(st.st_mtim.tv_sec)
        var nanoseconds = Int(st.st_mtim.tv_nsec)
        if let epoch = options.sourceDateEpoch, mtime > epoch || (mtime == epoch && nanoseconds > 0) {
            mtime = epoch
            nanoseconds = 0
        }
        archive_entry_set_mtime(entry, Int(mtime), nanoseconds)
    }

    /// Makes a regular file with several links a hardlink entry to the first of its names that was
    /// written; returns whether it did (the first name itself is recorded and stays a file).
    private func linkToEarlier(_ entry: OpaquePointer, _ path: [UInt8], _ st: stat, state: State) -> Bool {
        guard st.st_nlink > 1 else { return false }
        let id = FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        guard let first = state.links[id] else {
            state.links[id] = path
            return false
        }
        archive_entry_set_hardlink(entry, PathBytes.cString(first))
        archive_entry_set_size(entry, 0)
        return true
    }

    private func copyData(
        _ fd: Int32, _ host: [CChar], size: Int64, archive: OpaquePointer, state: State, entry: [UInt8]
    ) throws(LayerArchiveError) {
        var remaining = size
        var missed = false
        defer {
            if state.misses.record(missed: missed) && state.readahead == nil { startReadahead(state) }
        }
        while remaining > 0 {
            // A task that was cancelled (berth got SIGINT or SIGTERM) stops within one block.
            if Task.isCancelled {
                throw LayerArchiveError(path: output, entry: PathBytes.display(entry), message: "interrupted")
            }
            let want = Int(min(Int64(state.buffer.count), remaining))
            let offset = size - remaining
            let n = state.buffer.withUnsafeMutableBytes { buffer -> Int in
                if state.readahead == nil && state.probeCache {
                    let cached = berth_pread_cached(fd, buffer.baseAddress, UInt(want), offset)
                    if cached == want || (cached > 0 && Int64(cached) == remaining) { return cached }
                    if cached < 0 && errno != EAGAIN {
                        state.probeCache = false  // no RWF_NOWAIT here: plain reads from now on
                    } else {
                        missed = true
                    }
                }
                return pread(fd, buffer.baseAddress, want, off_t(offset))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.failure(host, "read")
            }
            if n == 0 {
                throw LayerArchiveError(path: Self.display(host), message: "file shrank while being archived")
            }
            let written = state.buffer.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, n) }
            guard written == n else {
                throw LayerArchiveError(
                    path: output, entry: PathBytes.display(entry),
                    message: archiveErrorMessage(archive))
            }
            remaining -= Int64(n)
        }
    }

    /// Starts reading ahead: the rest of the directory being written now, then each directory
    /// the walk enters.
    private func startReadahead(_ state: State) {
        let readahead = TreeReadahead()
        state.readahead = readahead
        if let position = state.position {
            readahead.follow(directory: position.directory, names: position.names[(position.index + 1)...])
        }
    }

    /// The names in the directory open at `fd` (`display` names it in errors), in bytewise order.
    static func sortedChildren(_ fd: Int32, display: [UInt8]) throws(LayerArchiveError) -> [[UInt8]] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            let message = "open directory: \(String(cString: strerror(errno)))"
            throw LayerArchiveError(path: PathBytes.display(display), message: message)
        }
        defer { closedir(dir) }
        return PathBytes.names(in: dir).sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// The names in `directory` (a host path), in bytewise order: the same on every machine.
    static func sortedChildren(_ directory: [UInt8]) throws(LayerArchiveError) -> [[UInt8]] {
        guard let dir = opendir(PathBytes.cString(directory)) else {
            throw LayerArchiveError(
                path: PathBytes.display(directory), message: "open directory: \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        return PathBytes.names(in: dir).sorted { $0.lexicographicallyPrecedes($1) }
    }

    static func isOpaque(_ path: [CChar]) -> Bool {
        isOpaque { lgetxattr(path, "trusted.overlay.opaque", $0, $1) }
    }

    static func isOpaque(fd: Int32) -> Bool {
        isOpaque { fgetxattr(fd, "trusted.overlay.opaque", $0, $1) }
    }

    /// Whether `get` (one getxattr of `trusted.overlay.opaque` into a buffer) reads "y".
    private static func isOpaque(get: (UnsafeMutableRawPointer?, Int) -> Int) -> Bool {
        var value = [UInt8](repeating: 0, count: 8)
        let n = value.withUnsafeMutableBytes { get($0.baseAddress, $0.count) }
        return n == 1 && value[0] == UInt8(ascii: "y")
    }

    /// The extended attributes of `path` (not followed if a symlink), names as bytes, in
    /// bytewise order of name.
    static func xattrs(_ path: [CChar]) -> [([UInt8], [UInt8])] {
        xattrs(list: { llistxattr(path, $0, $1) }, get: { lgetxattr(path, $0, $1, $2) })
    }

    /// The extended attributes of the file open at `fd`, as ``xattrs(_:)``.
    static func xattrs(fd: Int32) -> [([UInt8], [UInt8])] {
        xattrs(list: { flistxattr(fd, $0, $1) }, get: { fgetxattr(fd, $0, $1, $2) })
    }

    private static func xattrs(
        list: (UnsafeMutablePointer<CChar>?, Int) -> Int,
        get: (UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
    ) -> [([UInt8], [UInt8])] {
        let size = list(nil, 0)
        if size <= 0 { return [] }
        var names = [CChar](repeating: 0, count: size)
        let got = names.withUnsafeMutableBufferPointer { list($0.baseAddress, size) }
        guard got > 0 else { return [] }
        var result: [([UInt8], [UInt8])] = []
        for raw in names[0..<got].split(separator: 0) {
            let name = Array(raw) + [0]
            let length = get(name, nil, 0)
            guard length >= 0 else { continue }
            var value = [UInt8](repeating: 0, count: length)
            let n = value.withUnsafeMutableBytes { get(name, $0.baseAddress, length) }
            guard n >= 0 else { continue }
            result.append((raw.map { UInt8(bitPattern: $0) }, Array(value[0..<n])))
        }
        return result.sorted { $0.0.lexicographicallyPrecedes($1.0) }
    }

    /// The target of the symlink at `path`, as bytes.
    static func readLink(_ path: [CChar]) throws(LayerArchiveError) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { throw failure(path, "readlink") }
        return buffer[0..<n].map { UInt8(bitPattern: $0) }
    }

    /// A NUL-terminated host path, readable for messages.
    private static func display(_ path: [CChar]) -> String {
        PathBytes.display(path.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) })
    }

    /// An error for a failed system call on `path`, with errno's text.
    private static func failure(_ path: [CChar], _ what: String) -> LayerArchiveError {
        LayerArchiveError(path: display(path), message: "\(what): \(String(cString: strerror(errno)))")
    }
}

/// glibc's encoding of device numbers in `dev_t`.
enum DeviceNumber {
    static func major(_ dev: dev_t) -> UInt { UInt(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff)) }
    static func minor(_ dev: dev_t) -> UInt { UInt((dev & 0xff) | ((dev >> 12) & ~0xff)) }
    static func make(major: UInt, minor: UInt) -> dev_t {
        let ma = dev_t(major)
        let mi = dev_t(minor)
        return ((ma & 0xfff) << 8) | ((ma & ~0xfff) << 32) | (mi & 0xff) | ((mi & ~0xff) << 12)
    }
}
