import ContainerRuntime
import DockerfileSyntax
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where COPY/ADD reads from: the build context (with .dockerignore) or another stage's or
/// image's root filesystem.
struct SourceRoot {
    var hostPath: String
    var ignore: IgnoreMatcher?
    /// For messages: "build context" or "stage builder".
    var label: String
    /// `COPY/ADD --exclude` patterns (.dockerignore syntax), matched against paths relative to
    /// each selected source; nil when none were given.
    var excludes: IgnoreMatcher? = nil

    /// The walk filter for this root.
    func decision(_ contextPath: String, _ isDirectory: Bool) -> WalkDecision {
        guard let ignore, !ignore.isEmpty else { return .include }
        if !ignore.isExcluded(contextPath) { return .include }
        if isDirectory && !ignore.canSkipDirectory(contextPath) { return .skipEntryOnly }
        return .skipTree
    }

    /// The walk filter under one selected source: .dockerignore (on context paths) and then the
    /// `--exclude` patterns (on paths relative to `source`), so excluded files are neither copied
    /// nor hashed.
    func decision(for source: SelectedSource) -> (String, Bool) -> WalkDecision {
        let prefix = source.contextPath
        return { contextPath, isDirectory in
            let decided = self.decision(contextPath, isDirectory)
            guard decided != .skipTree, let excludes = self.excludes, !excludes.isEmpty else { return decided }
            let relative =
                prefix.isEmpty
                ? contextPath
                : contextPath.relativePath(under: prefix) ?? contextPath
            guard excludes.isExcluded(relative) else { return decided }
            return isDirectory && !excludes.canSkipDirectory(relative) ? .skipEntryOnly : .skipTree
        }
    }

    /// `path` with its symlinks resolved inside this root: the host path and the root-relative
    /// path ("" for the root itself). `what` names the path in the error for a symlink loop.
    func resolve(_ path: String, what: String) throws -> (host: String, relative: String) {
        let host: String
        do {
            host = try RootedPath.resolve(path, in: hostPath)
        } catch {
            throw BuildError("\(what): too many levels of symbolic links in the \(label)")
        }
        return (host, host == hostPath ? "" : String(host.dropFirst(hostPath.count + 1)))
    }

    /// Whether `--exclude` drops a selected source as a whole (matched by its base name, as
    /// `COPY --exclude=*.txt hom* /dst/` drops `home.txt`).
    func excludesWhole(_ source: SelectedSource) -> Bool {
        guard let excludes, !excludes.isEmpty, !source.relativePath.isEmpty else { return false }
        return excludes.isExcluded(source.baseName)
            && (!source.isDirectory || excludes.canSkipDirectory(source.baseName))
    }
}

/// A source path a COPY selected.
struct SelectedSource {
    /// Path relative to the source root, `/`-separated, without leading `/` (empty for the root),
    /// as selected: its last component names what is copied.
    var relativePath: String
    /// Where the content is read: for a selected symlink, its target resolved inside the root.
    var hostPath: String
    var status: stat
    /// For a selected symlink, the root-relative path of its target; nil otherwise.
    var resolvedPath: String? = nil
    /// The root-relative path of what is read, which .dockerignore and `--exclude` are matched
    /// against while walking it.
    var contextPath: String { resolvedPath ?? relativePath }
    var isDirectory: Bool { (status.st_mode & S_IFMT) == S_IFDIR }
    var baseName: String {
        relativePath.slashComponents().last ?? ""
    }
}

enum SourceSelection {
    static func hasWildcard(_ pattern: String) -> Bool {
        pattern.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }

    /// Expands one COPY source (possibly with wildcards) inside `root`.
    static func select(_ source: String, in root: SourceRoot) throws -> [SelectedSource] {
        let cleaned = RootedPath.clean(source)
        let components = cleaned.slashComponents()
        var matches: [(String, String)] = [("", root.hostPath)]  // (relative, host)
        for (index, component) in components.enumerated() {
            var next: [(String, String)] = []
            for (rel, host) in matches {
                let names: [String]
                if hasWildcard(component) {
                    names = ((try? FileWalk.children(of: host)) ?? []).filter {
                        fnmatch(component, $0, FNM_PATHNAME) == 0
                    }
                } else {
                    names = [component]
                }
                for name in names {
                    let childRel = rel.isEmpty ? name : rel + "/" + name
                    // Parent components resolve symlinks inside the root; the last stays as is.
                    let childHost: String
                    if index < components.count - 1 {
                        childHost = (try? RootedPath.resolve(childRel, in: root.hostPath)) ?? host + "/" + name
                    } else {
                        childHost = host + "/" + name
                    }
                    var st = stat()
                    guard lstat(childHost, &st) == 0 else { continue }
                    if root.decision(childRel, (st.st_mode & S_IFMT) == S_IFDIR) == .skipTree,
                        index == components.count - 1
                    {
                        continue
                    }
                    next.append((childRel, childHost))
                }
            }
            matches = next
        }
        return try matches.compactMap { rel, host in
            var st = stat()
            guard lstat(host, &st) == 0, !isIgnored(rel, st, by: root) else { return nil }
            guard (st.st_mode & S_IFMT) == S_IFLNK else {
                return SelectedSource(relativePath: rel, hostPath: host, status: st)
            }
            // A selected symlink is followed, inside the root, as BuildKit does (`COPY link /a`
            // copies what `link` points to, named `a`); symlinks met while walking a selected
            // directory stay symlinks. A target outside the root or missing is not found.
            let (target, resolved) = try root.resolve(rel, what: rel)
            guard lstat(target, &st) == 0, resolved.isEmpty || !isIgnored(resolved, st, by: root) else { return nil }
            return SelectedSource(relativePath: rel, hostPath: target, status: st, resolvedPath: resolved)
        }.sorted { $0.relativePath < $1.relativePath }
    }

    /// Whether .dockerignore leaves `path` (and, for a directory, everything under it) out.
    private static func isIgnored(_ path: String, _ status: stat, by root: SourceRoot) -> Bool {
        guard let ignore = root.ignore, !path.isEmpty, ignore.isExcluded(path) else { return false }
        return (status.st_mode & S_IFMT) != S_IFDIR || ignore.canSkipDirectory(path)
    }
}
