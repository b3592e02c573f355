import CRuntimeShim

#if canImport(Glibc)
    import Glibc
#endif

/// Creates missing mount targets inside a root (resolved with RESOLVE_IN_ROOT) and remembers
/// exactly what it created, so a build step can remove them before its snapshot is taken.
final class MountPointStubs {
    let root: String
    private let rootFD: Int32
    /// Created paths, relative to the root, in creation order.
    private(set) var created: [String] = []

    init(root: String) throws(RuntimeError) {
        self.root = root
        rootFD = open(root, BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { throw .system(operation: "open container root \(root)", errno: errno) }
    }

    deinit { close(rootFD) }

    /// Makes sure `path` (relative) exists, as a directory or an empty file, with its parents.
    /// A dangling symlink on the way is followed inside the root, and its target created there.
    func ensure(_ path: String, directory: Bool, depth: Int = 0) throws(RuntimeError) {
        guard depth < 40 else { throw .system(operation: "resolve \(path) in \(root)", errno: ELOOP) }
        let components = path.slashComponents()
        var prefix = ""
        for (index, component) in components.enumerated() {
            prefix = prefix.isEmpty ? component : prefix + "/" + component
            let probe = berth_open_in_root(rootFD, prefix, BERTH_O_PATH, 0)
            if probe >= 0 {
                close(probe)
                continue
            }
            guard errno == ENOENT else { throw .system(operation: "resolve \(prefix) in \(root)", errno: errno) }
            let parent = parentDescriptor(components[..<index])
            guard parent >= 0 else { throw .system(operation: "resolve parent of \(prefix) in \(root)", errno: errno) }
            defer { close(parent) }
            if let target = Self.readLink(parent, component) {
                // A dangling symlink: create what it points to, resolved inside the root.
                let base = components[..<index].joined(separator: "/")
                let resolved =
                    target.startsWithSlash
                    ? String(decoding: target.utf8.drop { $0 == UInt8(ascii: "/") }, as: UTF8.self)
                    : (base.isEmpty ? target : base + "/" + target)
                let rest = components[(index + 1)...].joined(separator: "/")
                try ensure(rest.isEmpty ? resolved : resolved + "/" + rest, directory: directory, depth: depth + 1)
                return
            }
            let isLast = index == components.count - 1
            if isLast && !directory {
                let fd = openat(parent, component, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw .system(operation: "create mount point \(prefix) in \(root)", errno: errno) }
                close(fd)
            } else {
                guard mkdirat(parent, component, 0o755) == 0 else {
                    throw .system(operation: "create mount point \(prefix) in \(root)", errno: errno)
                }
            }
            created.append(prefix)
        }
    }

    /// Removes what `ensure` created, deepest first; a directory something else was put in stays.
    func removeCreated() {
        for path in created.reversed() {
            let components = path.slashComponents()
            let parent = parentDescriptor(components.dropLast())
            guard parent >= 0, let name = components.last else { continue }
            if unlinkat(parent, name, 0) != 0 && errno == EISDIR {
                unlinkat(parent, name, AT_REMOVEDIR)
            }
            close(parent)
        }
        created.removeAll()
    }

    static func readLink(_ directory: Int32, _ name: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlinkat(directory, name, &buffer, 4096)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Stops tracking `path` (it was created on purpose, e.g. a missing working directory).
    func forgetPath(_ path: String) {
        created.removeAll { $0 == path }
    }

    private func parentDescriptor(_ components: ArraySlice<String>) -> Int32 {
        components.isEmpty
            ? dup(rootFD)
            : berth_open_in_root(rootFD, components.joined(separator: "/"), BERTH_O_PATH | O_DIRECTORY, 0)
    }
}
