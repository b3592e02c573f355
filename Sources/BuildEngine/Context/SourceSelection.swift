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
        let prefix = source.relativePath
        return { contextPath, isDirectory in
            let decided = self.decision(contextPath, isDirectory)
            guard decided != .skipTree, let excludes = self.excludes, !excludes.isEmpty else { return decided }
            let relative =
                prefix.isEmpty
                ? contextPath
                : contextPath.hasPrefix(prefix + "/") ? String(contextPath.dropFirst(prefix.count + 1)) : contextPath
            guard excludes.isExcluded(relative) else { return decided }
            return isDirectory && !excludes.canSkipDirectory(relative) ? .skipEntryOnly : .skipTree
        }
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
    /// Path relative to the source root, `/`-separated, without leading `/` (empty for the root).
    var relativePath: String
    var hostPath: String
    var status: stat
    var isDirectory: Bool { (status.st_mode & S_IFMT) == S_IFDIR }
    var baseName: String {
        relativePath.split(separator: "/").last.map(String.init) ?? ""
    }
}

enum SourceSelection {
    static func hasWildcard(_ pattern: String) -> Bool {
        pattern.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }

    /// Expands one COPY source (possibly with wildcards) inside `root`.
    static func select(_ source: String, in root: SourceRoot) throws -> [SelectedSource] {
        let cleaned = RootedPath.clean(source)
        let components = cleaned.split(separator: "/").map(String.init)
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
        return matches.compactMap { rel, host in
            var st = stat()
            guard lstat(host, &st) == 0 else { return nil }
            if let ignore = root.ignore, !rel.isEmpty, ignore.isExcluded(rel),
                (st.st_mode & S_IFMT) != S_IFDIR || ignore.canSkipDirectory(rel)
            {
                return nil
            }
            return SelectedSource(relativePath: rel, hostPath: host, status: st)
        }.sorted { $0.relativePath < $1.relativePath }
    }
}
