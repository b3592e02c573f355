import DockerfileSyntax
import Foundation
import ImageStore
import OCIImage
import Snapshots

#if canImport(Glibc)
    import Glibc
#endif

extension StageBuilder {
    /// COPY (and ADD of local files): keyed by the content of exactly what it selects.
    func copyStep(_ copy: CopyCommand, state: inout State, position: Int) async throws {
        if copy.isAdd,
            copy.sources.contains(where: { if case .path(let p) = $0 { return Self.isURL(p) } else { return false } })
        {
            throw BuildError("ADD of a URL is not supported by this berth version")
        }
        let title = (copy.isAdd ? "ADD " : "COPY ") + Self.oneLine(copy.info.original.dropFirst(copy.isAdd ? 4 : 5))
        if let from = copy.from {
            if let stageIndex = earlierStage(from), let result = session.result(ofStage: stageIndex) {
                try await session.snapshotter.withReadOnlyView(of: result.lowerChain) { root in
                    try await copyFrom(
                        SourceRoot(hostPath: root, ignore: nil, label: "stage \(from)"), copy, &state,
                        position: position, title: title)
                }
                return
            }
            let image: StoredImage
            do {
                image = try await session.store.image(named: from)
            } catch {
                throw BuildError("COPY --from=\(from): no stage or image of that name: \(error)")
            }
            let layers = try await snapshots(of: image)
            try await session.snapshotter.withReadOnlyView(of: layers.reversed()) { root in
                try await copyFrom(
                    SourceRoot(hostPath: root, ignore: nil, label: "image \(from)"), copy, &state,
                    position: position, title: title)
            }
            return
        }
        let context = SourceRoot(hostPath: session.options.contextPath, ignore: session.ignore, label: "build context")
        try await copyFrom(context, copy, &state, position: position, title: title)
    }

    static func isURL(_ source: String) -> Bool {
        source.hasPrefix("http://") || source.hasPrefix("https://") || source.hasPrefix("git@")
    }

    private func copyFrom(
        _ root: SourceRoot, _ copy: CopyCommand, _ state: inout State, position: Int, title: String
    ) async throws {
        var selections: [SelectedSource] = []
        var heredocs: [Heredoc] = []
        var usedWildcard = false
        for source in copy.sources {
            switch source {
            case .heredoc(let heredoc):
                heredocs.append(heredoc)
            case .path(let path):
                let found = try SourceSelection.select(path, in: root)
                if SourceSelection.hasWildcard(path) {
                    usedWildcard = true
                } else if found.isEmpty {
                    throw BuildError(
                        "\(copy.info.keyword) failed: \"\(path)\" not found in the \(root.label)"
                            + (root.ignore == nil ? "" : " or excluded by .dockerignore"))
                }
                selections += found
            }
        }
        if selections.isEmpty && heredocs.isEmpty {
            throw BuildError("\(copy.info.keyword) failed: no source files were specified or matched")
        }
        // The build context goes through the stat cache; other stages' files are hashed as they are.
        let statCache: ContentHash.StatCache? =
            root.hostPath == session.options.contextPath
            ? ContentHash.StatCache(known: try await session.store.statCache(under: session.options.contextPath)) : nil
        var files: [String: String] = [:]
        let contentHash = try ContentHash.of(selections, in: root, cache: statCache) { files[$0] = $1 }
        if let statCache { try await session.store.updateStatCache(statCache.learned) }
        let heredocHash = Digest.sha256(
            of: Array(heredocs.map { "\($0.name)\u{0}\($0.content)" }.joined(separator: "\u{0}").utf8))
        var destination = copy.destination
        if !destination.hasPrefix("/") {
            let workdir = state.containerConfig.workingDir ?? "/"
            destination = (workdir.hasSuffix("/") ? workdir : workdir + "/") + destination
        }
        let intoDirectory =
            destination.hasSuffix("/") || copy.sources.count > 1 || usedWildcard
        let key = CacheKey.derive(
            parent: state.key, kind: copy.isAdd ? "ADD" : "COPY",
            parts: [
                destination, copy.chown ?? "", copy.chmod ?? "", String(copy.link), String(copy.parents),
                copy.excludes.joined(separator: ","), contentHash, heredocHash.encoded,
            ] + selections.map(\.baseName))
        let chmod = try copy.chmod.map(Self.parseMode)
        let chown = copy.chown
        var inputs = stepInputs(state, kind: copy.isAdd ? "ADD" : "COPY", instruction: copy.info.original)
        inputs.fields = [
            "destination": destination, "--chown": copy.chown ?? "", "--chmod": copy.chmod ?? "",
            "--link": String(copy.link), "--parents": String(copy.parents),
            "--exclude": copy.excludes.joined(separator: ","), "heredocs": heredocHash.encoded,
            "sources": selections.map(\.baseName).joined(separator: " "), "from": root.label,
        ]
        // Huge selections keep only their content hash in the record (it stays small).
        if files.count <= StepInputs.fileLimit {
            inputs.files = files
        } else {
            inputs.fields["content"] = contentHash
        }
        let stateCopy = state
        try await fileSystemStep(
            &state, position: position, title: title, key: key, createdBy: historyText(.copy(copy)), inputs: inputs
        ) { _ in
            try await withMountedStep(stateCopy) { active in
                let rootPath = active.rootPath
                let (uid, gid) = try chown.map { try UserDatabase.resolve($0, in: rootPath) } ?? (0, 0)
                let copier = FileCopier(uid: uid, gid: gid, chmod: chmod, sourceRoot: root)
                let target = try RootedPath.resolve(destination, in: rootPath)
                var st = stat()
                let existingDirectory = lstat(target, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
                for selection in selections {
                    if selection.isDirectory {
                        try makeParents(target, under: rootPath, uid: 0, gid: 0)
                        try copier.copy(selection, to: target)
                    } else if intoDirectory || existingDirectory {
                        try makeParents(target, under: rootPath, uid: 0, gid: 0)
                        try copier.copy(selection, to: target + "/" + selection.baseName)
                    } else {
                        try makeParents((target as NSString).deletingLastPathComponent, under: rootPath, uid: 0, gid: 0)
                        try copier.copy(selection, to: target)
                    }
                }
                for heredoc in heredocs {
                    let file = intoDirectory || existingDirectory ? target + "/" + heredoc.name : target
                    try makeParents((file as NSString).deletingLastPathComponent, under: rootPath, uid: 0, gid: 0)
                    try copier.write(Array(heredoc.content.utf8), to: file, mode: 0o644)
                }
            }
        }
    }

    /// `--chmod` value: octal digits.
    static func parseMode(_ text: String) throws -> mode_t {
        guard let value = mode_t(text, radix: 8), value <= 0o7777 else {
            throw BuildError("invalid --chmod value '\(text)': expected octal permissions such as 755")
        }
        return value
    }
}
