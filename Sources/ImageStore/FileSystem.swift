import Foundation
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// Small POSIX helpers shared by the store's modules; every error names its path.
public enum FileSystem {
    /// mkdir -p with mode 0700 for new store directories.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(StoreError) {
        if mkdir(path, mode) == 0 || errno == EEXIST { return }
        if errno == ENOENT {
            // The parent as bytes (NSString's version splits by Character on Linux).
            let slash = UInt8(ascii: "/")
            var bytes = Array(path.utf8)
            while bytes.count > 1 && bytes.last == slash { bytes.removeLast() }
            var parent = ""
            if let cut = bytes.lastIndex(of: slash) {
                parent = cut == 0 ? "/" : String(decoding: bytes[..<cut], as: UTF8.self)
            }
            if !parent.isEmpty && parent != path {
                try makeDirectory(parent, mode: mode)
                if mkdir(path, mode) == 0 || errno == EEXIST { return }
            }
        }
        throw .io(path: path, operation: "create directory", errno: errno)
    }

    /// Removes a file or a whole tree, not following symlinks. Missing paths are fine. Works on
    /// names that are not UTF-8 (it walks with directory descriptors and raw names).
    public static func removeTree(_ path: String) throws(StoreError) {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return }
            throw .io(path: path, operation: "stat", errno: errno)
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            if unlink(path) != 0 && errno != ENOENT { throw .io(path: path, operation: "remove", errno: errno) }
            return
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open directory", errno: errno) }
        defer { close(fd) }
        try removeContents(of: fd, label: path)
        if rmdir(path) != 0 && errno != ENOENT {
            throw .io(path: path, operation: "remove directory", errno: errno)
        }
    }

    /// A raw directory entry name (NUL-terminated bytes) for messages.
    private static func displayName(_ name: [CChar]) -> String {
        String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func removeContents(of fd: Int32, label: String) throws(StoreError) {
        for name in try rawNames(in: fd, label: label) {
            var st = stat()
            guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
                if errno == ENOENT { continue }
                throw .io(path: label + "/" + displayName(name), operation: "stat", errno: errno)
            }
            let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
            if isDirectory {
                let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else {
                    throw .io(path: label + "/" + displayName(name), operation: "open directory", errno: errno)
                }
                defer { close(child) }
                try removeContents(of: child, label: label + "/" + displayName(name))
            }
            if unlinkat(fd, name, isDirectory ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT {
                throw .io(path: label + "/" + displayName(name), operation: "remove", errno: errno)
            }
        }
    }

    /// The entries of an open directory as NUL-terminated raw names (without `.` and `..`).
    static func rawNames(in fd: Int32, label: String) throws(StoreError) -> [[CChar]] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            throw .io(path: label, operation: "open directory", errno: errno)
        }
        defer { closedir(dir) }
        var names: [[CChar]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.bindMemory(to: CChar.self).prefix { $0 != 0 }) + [0]
            }
            if name != [46, 0] && name != [46, 46, 0] { names.append(name) }
        }
        return names
    }

    /// The names in a directory (for the store's own directories, whose names are ASCII).
    public static func listDirectory(_ path: String) throws(StoreError) -> [String] {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return [] }
            throw .io(path: path, operation: "open directory", errno: errno)
        }
        defer { close(fd) }
        return try rawNames(in: fd, label: path).map { displayName($0) }
    }

    /// Bytes a tree occupies on disk (allocated blocks; hardlinked files counted once).
    public static func diskUsage(_ path: String) -> Int64 {
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        var total = Int64(st.st_blocks) * 512
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return total }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return total }
        defer { close(fd) }
        var seen = Set<[UInt64]>()
        total += diskUsage(of: fd, seen: &seen)
        return total
    }

    private static func diskUsage(of fd: Int32, seen: inout Set<[UInt64]>) -> Int64 {
        var total: Int64 = 0
        for name in (try? rawNames(in: fd, label: "")) ?? [] {
            var st = stat()
            guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
            if st.st_nlink > 1 && !isDirectory {
                guard seen.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted else { continue }
            }
            total += Int64(st.st_blocks) * 512
            if isDirectory {
                let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else { continue }
                total += diskUsage(of: child, seen: &seen)
                close(child)
            }
        }
        return total
    }

    /// Writes `bytes` to `path` atomically: temp file, fsync, rename.
    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR; false (errno set) when a
    /// write fails or writes nothing.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    public static func writeAtomically(_ bytes: [UInt8], to path: String, temporary: String) throws(StoreError) {
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(path: temporary, operation: "create", errno: errno) }
        guard writeAll(fd, bytes) else {
            let code = errno
            close(fd)
            unlink(temporary)
            throw .io(path: temporary, operation: "write", errno: code)
        }
        fsync(fd)
        close(fd)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw .io(path: path, operation: "rename into place", errno: code)
        }
    }

    /// Reads a whole file.
    public static func read(_ path: String) throws(StoreError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return out
    }

    /// A file's SHA-256 digest and size, streamed in 1 MiB reads.
    public static func digest(ofFile path: String) throws(StoreError) -> (digest: Digest, size: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var hasher = DigestHasher()
        var size: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            size += Int64(n)
        }
        return (hasher.finalize(), size)
    }

    /// True when something exists at `path` (not following a final symlink).
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }
}
