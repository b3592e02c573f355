import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One file system entry found while walking a source tree.
struct WalkEntry {
    /// Path relative to the walk's base, `/`-separated; empty for the base itself.
    var relativePath: String
    var hostPath: String
    var status: stat
    var isDirectory: Bool { (status.st_mode & S_IFMT) == S_IFDIR }
    var isSymlink: Bool { (status.st_mode & S_IFMT) == S_IFLNK }
    var isRegular: Bool { (status.st_mode & S_IFMT) == S_IFREG }
}

enum FileWalk {
    /// Lists a directory's entry names, sorted bytewise.
    static func children(of path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            throw BuildError("cannot read directory \(path): \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        return sortedNames(dir)
    }

    /// The entry names read from `dir` (without `.` and `..`), sorted bytewise.
    private static func sortedNames(_ dir: OpaquePointer) -> [String] {
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        // Bytewise order, compared in place (no copies of the names per comparison).
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The entries of the directory at `hostPath`, sorted bytewise by name, each with its
    /// `lstat` (made relative to the open directory: one name to resolve, not the whole path);
    /// an entry that vanished meanwhile is left out.
    static func statusesOfChildren(of hostPath: String) throws -> [(name: String, status: stat)] {
        let fd = open(hostPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw BuildError("cannot read directory \(hostPath): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            throw BuildError("cannot read directory \(hostPath): \(String(cString: strerror(errno)))")
        }
        let names = sortedNames(dir)
        closedir(dir)
        var result: [(name: String, status: stat)] = []
        result.reserveCapacity(names.count)
        for name in names {
            var st = stat()
            if fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 { result.append((name, st)) }
        }
        return result
    }

    /// Walks `hostPath` depth-first in sorted order, calling `visit` for every entry (the base
    /// first, with an empty relative path). `include` filters by path relative to `contextBase`
    /// (the path used for .dockerignore matching) and may prune whole directories.
    static func walk(
        hostPath: String, contextPath: String,
        include: (String, Bool) -> WalkDecision,
        visit: (WalkEntry, String) throws -> Void
    ) throws {
        var st = stat()
        guard lstat(hostPath, &st) == 0 else {
            throw BuildError("cannot stat \(hostPath): \(String(cString: strerror(errno)))")
        }
        try walk(
            WalkEntry(relativePath: "", hostPath: hostPath, status: st), contextPath: contextPath, include: include,
            visit: visit)
    }

    private static func walk(
        _ entry: WalkEntry, contextPath: String,
        include: (String, Bool) -> WalkDecision,
        visit: (WalkEntry, String) throws -> Void
    ) throws {
        try visit(entry, contextPath)
        guard entry.isDirectory else { return }
        for (name, st) in try statusesOfChildren(of: entry.hostPath) {
            let host = entry.hostPath + "/" + name
            let rel = entry.relativePath.isEmpty ? name : entry.relativePath + "/" + name
            let ctx = contextPath.isEmpty ? name : contextPath + "/" + name
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR
            switch include(ctx, isDir) {
            case .skipTree:
                continue
            case .skipEntryOnly:
                // Excluded itself, but an exception pattern may re-include something inside.
                if isDir {
                    try walkExcludedDirectory(
                        WalkEntry(relativePath: rel, hostPath: host, status: st), contextPath: ctx,
                        include: include, visit: visit)
                }
            case .include:
                try walk(
                    WalkEntry(relativePath: rel, hostPath: host, status: st), contextPath: ctx,
                    include: include, visit: visit)
            }
        }
    }

    /// Walks an excluded directory looking for re-included descendants; a re-included entry's
    /// parent directories are visited too, as BuildKit keeps them.
    private static func walkExcludedDirectory(
        _ entry: WalkEntry, contextPath: String,
        include: (String, Bool) -> WalkDecision,
        visit: (WalkEntry, String) throws -> Void
    ) throws {
        var parentVisited = false
        for (name, st) in try statusesOfChildren(of: entry.hostPath) {
            let host = entry.hostPath + "/" + name
            let rel = entry.relativePath + "/" + name
            let ctx = contextPath + "/" + name
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR
            let decision = include(ctx, isDir)
            if decision == .include && !parentVisited {
                try visit(entry, contextPath)
                parentVisited = true
            }
            let child = WalkEntry(relativePath: rel, hostPath: host, status: st)
            switch decision {
            case .include: try walk(child, contextPath: ctx, include: include, visit: visit)
            case .skipEntryOnly where isDir:
                try walkExcludedDirectory(child, contextPath: ctx, include: include, visit: visit)
            default: continue
            }
        }
    }
}

/// What a walk does with one path.
enum WalkDecision: Equatable {
    case include
    /// The entry is excluded; for a directory, its children are still examined.
    case skipEntryOnly
    /// Neither the entry nor anything under it is included.
    case skipTree
}
