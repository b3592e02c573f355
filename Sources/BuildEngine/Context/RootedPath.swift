import ContainerRuntime
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Resolves paths inside a root directory the way the container would see them: symlinks are
/// followed relative to the root (an absolute link target restarts at the root, `..` never climbs
/// above it), so the result always lies inside `root`.
enum RootedPath {
    struct TooManyLinks: Error {}

    /// Cleans a slash path: no empty or `.` components, `..` resolved lexically, leading `/`.
    /// Components are split at every `/` byte, as Go's `path.Clean` does (see
    /// ``Swift/StringProtocol/slashComponents(keepingEmpty:)``).
    static func clean(_ path: String) -> String {
        var parts: [String] = []
        for component in path.slashComponents() {
            if component == "." { continue }
            if component == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(component)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Resolves `path` (interpreted inside `root`) and returns the host path under `root`.
    /// The final component is followed only when `followFinal` is true. Missing components are
    /// kept as written.
    static func resolve(_ path: String, in root: String, followFinal: Bool = true) throws -> String {
        var pending = path.slashComponents()
        var resolved: [String] = []
        var links = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." || component.isEmpty { continue }
            if component == ".." {
                if !resolved.isEmpty { resolved.removeLast() }
                continue
            }
            let candidate = root + "/" + (resolved + [component]).joined(separator: "/")
            var st = stat()
            let isLast = pending.isEmpty
            if lstat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK, !isLast || followFinal {
                links += 1
                if links > 255 { throw TooManyLinks() }
                let target = try ContentHash.readLink(candidate)
                if target.startsWithSlash { resolved = [] }
                pending = target.slashComponents() + pending
                continue
            }
            resolved.append(component)
        }
        return resolved.isEmpty ? root : root + "/" + resolved.joined(separator: "/")
    }
}
