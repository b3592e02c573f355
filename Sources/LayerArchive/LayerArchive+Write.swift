import CArchive
import Foundation
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

extension LayerArchive {
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
struct TreeWriter {
    let root: String
    let output: String
    let options: LayerWriteOptions
    let overlayDiff: Bool
    let skipWhiteouts: Bool

    private final class State {
        var links: [String: String] = [:]  // "dev:ino" → first path
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
    }

    func write() throws(LayerArchiveError) -> LayerDigest {
        let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw LayerArchiveError(path: output, message: "create: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let sink = ArchiveSink(fd: fd)
        let archive = try sink.openWriter(path: output)
        defer { archive_write_free(archive) }
        let state = State()
        try walk("", archive: archive, state: state)
        guard archive_write_close(archive) == ARCHIVE_OK, sink.failure == 0 else {
            throw LayerArchiveError(
                path: output,
                message: sink.failure != 0
                    ? String(cString: strerror(sink.failure)) : String(cString: archive_error_string(archive)))
        }
        return LayerDigest(diffID: sink.hasher.finalize(), size: sink.hasher.byteCount)
    }

    /// Writes the children of `relative` (a directory path relative to the root, "" for the root).
    private func walk(_ relative: String, archive: OpaquePointer, state: State) throws(LayerArchiveError) {
        let directory = relative.isEmpty ? root : root + "/" + relative
        for name in try Self.sortedChildren(directory) {
            let path = relative.isEmpty ? name : relative + "/" + name
            let host = root + "/" + path
            var st = stat()
            guard lstat(host, &st) == 0 else {
                throw LayerArchiveError(path: host, message: "stat: \(String(cString: strerror(errno)))")
            }
            let type = st.st_mode & Glibc.S_IFMT
            if skipWhiteouts && type == Glibc.S_IFCHR && st.st_rdev == 0 { continue }
            if overlayDiff && type == Glibc.S_IFCHR && st.st_rdev == 0 {
                try writeWhiteout(relative.isEmpty ? ".wh.\(name)" : "\(relative)/.wh.\(name)", archive: archive)
                continue
            }
            try writeEntry(path, host: host, status: st, archive: archive, state: state)
            if type == Glibc.S_IFDIR {
                if overlayDiff && Self.isOpaque(host) {
                    try writeWhiteout(path + "/.wh..wh..opq", archive: archive)
                }
                try walk(path, archive: archive, state: state)
            }
        }
    }

    private func writeWhiteout(_ name: String, archive: OpaquePointer) throws(LayerArchiveError) {
        guard let entry = archive_entry_new() else { throw LayerArchiveError(path: output, message: "out of memory") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, name)
        archive_entry_set_filetype(entry, UInt32(Glibc.S_IFREG))
        archive_entry_set_perm(entry, 0)
        archive_entry_set_size(entry, 0)
        archive_entry_set_mtime(entry, 0, 0)
        guard archive_write_header(archive, entry) == ARCHIVE_OK else {
            throw LayerArchiveError(path: output, entry: name, message: String(cString: archive_error_string(archive)))
        }
    }

    private func writeEntry(
        _ path: String, host: String, status st: stat, archive: OpaquePointer, state: State
    ) throws(LayerArchiveError) {
        guard let entry = archive_entry_new() else { throw LayerArchiveError(path: output, message: "out of memory") }
        defer { archive_entry_free(entry) }
        let type = st.st_mode & Glibc.S_IFMT
        archive_entry_set_pathname(entry, type == Glibc.S_IFDIR ? path + "/" : path)
        archive_entry_set_perm(entry, st.st_mode & 0o7777)
        archive_entry_set_uid(entry, Int64(st.st_uid))
        archive_entry_set_gid(entry, Int64(st.st_gid))
        var mtime = Int64(st.st_mtim.tv_sec)
        var nanoseconds = Int(st.st_mtim.tv_nsec)
        if let epoch = options.sourceDateEpoch, mtime > epoch || (mtime == epoch && nanoseconds > 0) {
            mtime = epoch
            nanoseconds = 0
        }
        archive_entry_set_mtime(entry, Int(mtime), nanoseconds)
        for (name, value) in try Self.xattrs(host) where !name.hasPrefix("trusted.overlay.") {
            value.withUnsafeBytes { archive_entry_xattr_add_entry(entry, name, $0.baseAddress, $0.count) }
        }
        var isHardlink = false
        switch type {
        case Glibc.S_IFREG:
            archive_entry_set_filetype(entry, UInt32(Glibc.S_IFREG))
            if st.st_nlink > 1 {
                let key = "\(st.st_dev):\(st.st_ino)"
                if let first = state.links[key] {
                    archive_entry_set_hardlink(entry, first)
                    archive_entry_set_size(entry, 0)
                    isHardlink = true
                } else {
                    state.links[key] = path
                }
            }
            if !isHardlink { archive_entry_set_size(entry, Int64(st.st_size)) }
        case Glibc.S_IFDIR:
            archive_entry_set_filetype(entry, UInt32(Glibc.S_IFDIR))
        case Glibc.S_IFLNK:
            archive_entry_set_filetype(entry, UInt32(Glibc.S_IFLNK))
            archive_entry_set_symlink(entry, try Self.readLink(host))
        case Glibc.S_IFIFO:
            archive_entry_set_filetype(entry, UInt32(Glibc.S_IFIFO))
        case Glibc.S_IFCHR, Glibc.S_IFBLK:
            archive_entry_set_filetype(entry, UInt32(type))
            archive_entry_set_rdevmajor(entry, DeviceNumber.major(st.st_rdev))
            archive_entry_set_rdevminor(entry, DeviceNumber.minor(st.st_rdev))
        default:
            return  // sockets have no tar form
        }
        guard archive_write_header(archive, entry) == ARCHIVE_OK else {
            throw LayerArchiveError(path: output, entry: path, message: String(cString: archive_error_string(archive)))
        }
        if type == Glibc.S_IFREG && !isHardlink && st.st_size > 0 {
            try copyData(host, size: Int64(st.st_size), archive: archive, state: state, entry: path)
        }
    }

    private func copyData(
        _ host: String, size: Int64, archive: OpaquePointer, state: State, entry: String
    ) throws(LayerArchiveError) {
        let fd = open(host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw LayerArchiveError(path: host, message: "open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var remaining = size
        while remaining > 0 {
            let want = Int(min(Int64(state.buffer.count), remaining))
            let n = state.buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, want) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LayerArchiveError(path: host, message: "read: \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                throw LayerArchiveError(path: host, message: "file shrank while being archived")
            }
            let written = state.buffer.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, n) }
            guard written == n else {
                throw LayerArchiveError(
                    path: output, entry: entry, message: String(cString: archive_error_string(archive)))
            }
            remaining -= Int64(n)
        }
    }

    static func sortedChildren(_ directory: String) throws(LayerArchiveError) -> [String] {
        guard let dir = opendir(directory) else {
            throw LayerArchiveError(path: directory, message: "open directory: \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [UInt8] in
                Array(raw.prefix { $0 != 0 })
            }
            if name != [0x2e] && name != [0x2e, 0x2e] { names.append(name) }
        }
        // Bytewise order, the same on every machine.
        var result: [String] = []
        for name in names.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            guard let text = String(validating: name, as: UTF8.self) else {
                throw LayerArchiveError(
                    path: directory,
                    message:
                        "file name \(name.map { String(format: "%02x", $0) }.joined()) (hex) is not UTF-8; such names are not supported yet"
                )
            }
            result.append(text)
        }
        return result
    }

    static func isOpaque(_ path: String) -> Bool {
        var value = [UInt8](repeating: 0, count: 8)
        let n = lgetxattr(path, "trusted.overlay.opaque", &value, value.count)
        return n == 1 && value[0] == UInt8(ascii: "y")
    }

    static func xattrs(_ path: String) throws(LayerArchiveError) -> [(String, [UInt8])] {
        let size = llistxattr(path, nil, 0)
        if size <= 0 { return [] }
        var names = [CChar](repeating: 0, count: size)
        let got = llistxattr(path, &names, size)
        guard got > 0 else { return [] }
        var result: [(String, [UInt8])] = []
        for raw in names[0..<got].split(separator: 0) {
            let name = String(cString: Array(raw) + [0])
            let length = lgetxattr(path, name, nil, 0)
            guard length >= 0 else { continue }
            var value = [UInt8](repeating: 0, count: length)
            let n = lgetxattr(path, name, &value, length)
            guard n >= 0 else { continue }
            result.append((name, Array(value[0..<n])))
        }
        return result.sorted { $0.0 < $1.0 }
    }

    static func readLink(_ path: String) throws(LayerArchiveError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else {
            throw LayerArchiveError(path: path, message: "readlink: \(String(cString: strerror(errno)))")
        }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
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
