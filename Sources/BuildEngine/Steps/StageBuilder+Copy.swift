import ContainerRuntime
import DockerfileSyntax
import Foundation
import ImageStore
import LayerArchive
import OCIImage
import Snapshots

#if canImport(Glibc)
    import Glibc
#endif

/// One selected source of a COPY/ADD and where `--parents` puts it.
struct CopyItem {
    var selection: SelectedSource
    /// With `--parents`: the source's path (after a `./` pivot) kept under the destination.
    var keptPath: String?
}

extension StageBuilder {
    /// COPY and ADD: keyed by the content of exactly what they select.
    func copyStep(_ copy: CopyCommand, state: inout State, position: Int) async throws {
        for case .path(let path) in copy.sources where path.hasPrefix("git@") {
            throw BuildError("\(copy.info.keyword) \(path): git sources are not supported by berth")
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

    /// With `--parents`, the part of `relativePath` kept under the destination: everything after
    /// the pivot (a `/./` in `source`), or the whole path when there is no pivot.
    static func keptPath(_ relativePath: String, source: String) -> String {
        let components = source.slashComponents(keepingEmpty: true)
        guard let pivot = components.indices.last(where: { $0 > 0 && components[$0] == "." }) else {
            return relativePath
        }
        let dropped = RootedPath.clean(components[..<pivot].joined(separator: "/")).slashComponents().count
        return relativePath.slashComponents().dropFirst(dropped).joined(separator: "/")
    }

    private func copyFrom(
        _ sourceRoot: SourceRoot, _ copy: CopyCommand, _ state: inout State, position: Int, title: String
    ) async throws {
        var root = sourceRoot
        if !copy.excludes.isEmpty {
            do {
                root.excludes = try IgnoreMatcher(patterns: copy.excludes)
            } catch {
                throw BuildError("\(copy.info.keyword) --exclude: invalid pattern: \(error)")
            }
        }
        var items: [CopyItem] = []
        var heredocs: [Heredoc] = []
        var urls: [String] = []
        var usedWildcard = false
        for source in copy.sources {
            switch source {
            case .heredoc(let heredoc):
                heredocs.append(heredoc)
            case .path(let path) where copy.isAdd && Self.isURL(path):
                urls.append(path)
            case .path(let path):
                let found = try SourceSelection.select(path, in: root).filter { !root.excludesWhole($0) }
                if SourceSelection.hasWildcard(path) {
                    usedWildcard = true
                } else if found.isEmpty {
                    throw BuildError(
                        "\(copy.info.keyword) failed: \"\(path)\" not found in the \(root.label)"
                            + (root.ignore == nil ? "" : " or excluded by .dockerignore"))
                }
                items += found.map {
                    CopyItem(selection: $0, keptPath: copy.parents ? Self.keptPath($0.relativePath, source: path) : nil)
                }
            }
        }
        if copy.checksum != nil && (!items.isEmpty || !heredocs.isEmpty) {
            throw BuildError("\(copy.info.keyword) --checksum: only HTTP(S) sources can be verified by checksum")
        }
        if items.isEmpty && heredocs.isEmpty && urls.isEmpty {
            throw BuildError("\(copy.info.keyword) failed: no source files were specified or matched")
        }
        let selections = items.map(\.selection)
        // The build context goes through the stat cache; other stages' files are hashed as they are.
        let statCache: ContentHash.StatCache? =
            root.hostPath == session.options.contextPath
            ? ContentHash.StatCache(known: try await session.store.statDirectories(under: session.options.contextPath))
            : nil
        let files = ContentHash.EntryList(limit: StepInputs.fileLimit)
        // One directory copied: unchanged files can be linked from the previous run's snapshot.
        let digests =
            !copy.link && !ignoresCache
                && CopyPlacement.isSingleDirectory(items, heredocs: heredocs, urls: urls)
            ? ContentHash.DigestIndex() : nil
        let contentHash = try ContentHash.of(selections, in: root, cache: statCache, entries: files, digests: digests)
        if let statCache { try await session.store.updateStatDirectories(statCache.learned) }
        let heredocHash = Digest.sha256(
            of: Array(heredocs.map { "\($0.name)\u{0}\($0.content)" }.joined(separator: "\u{0}").utf8))

        // URLs: keyed by --checksum when given (downloaded only if the step runs), else by the
        // downloaded content's digest.
        var downloads = DownloadSet()
        defer { downloads.removeAll() }
        var urlParts: [String] = []
        for url in urls {
            let name = URL(string: url).map(RemoteSource.fileName) ?? "__unnamed__"
            if let checksum = copy.checksum {
                urlParts.append("url\u{0}\(name)\u{0}\(checksum)")
            } else {
                let fetched = try await RemoteSource.download(
                    url, to: session.store.temporaryPath("add"), checksum: nil)
                downloads.add(fetched)
                urlParts.append(
                    "url\u{0}\(name)\u{0}\(fetched.digest)\u{0}\(fetched.lastModified?.timeIntervalSince1970 ?? 0)")
            }
        }

        var destination = copy.destination
        if !destination.startsWithSlash {
            let workdir = state.containerConfig.workingDir ?? "/"
            destination = (workdir.endsWithSlash ? workdir : workdir + "/") + destination
        }
        let intoDirectory =
            destination.endsWithSlash || copy.sources.count > 1 || usedWildcard || copy.parents
        let kind = copy.isAdd ? "ADD" : "COPY"
        let actionParts =
            [
                destination, copy.chown ?? "", copy.chmod ?? "", String(copy.link), String(copy.parents),
                copy.excludes.joined(separator: ","), contentHash, heredocHash.encoded,
            ] + items.map { $0.keptPath.map { "parents\u{0}" + $0 } ?? $0.selection.baseName } + urlParts
            + (copy.isAdd && copy.unpack != nil ? ["unpack=\(copy.unpack ?? true)"] : [])
        let chmod = try copy.chmod.map(Self.parseMode)
        var inputs = stepInputs(state, kind: copy.isAdd ? "ADD" : "COPY", instruction: copy.info.original)
        inputs.fields = [
            "destination": destination, "--chown": copy.chown ?? "", "--chmod": copy.chmod ?? "",
            "--link": String(copy.link), "--parents": String(copy.parents),
            "--exclude": copy.excludes.joined(separator: ","), "heredocs": heredocHash.encoded,
            "sources": selections.map(\.baseName).joined(separator: " "), "from": root.label,
        ]
        // Huge selections keep only their content hash in the record (it stays small).
        if let files = files.dictionary() {
            inputs.files = files
        } else {
            inputs.fields["content"] = contentHash
        }
        let placement = CopyPlacement(
            copy: copy, destination: destination, intoDirectory: intoDirectory, items: items, heredocs: heredocs,
            urls: urls, chmod: chmod, root: root, temporaryDirectory: session.store.temporaryDirectory)
        let stateCopy = state
        if copy.link {
            // --link: the files form a layer of their own, keyed without the layers below: the
            // copy runs on an empty tree, so nothing in the destination (a symlink, a file) changes
            // where or how it lands, and a rebuilt base reuses the layer as it is.
            let linkKey = CacheKey.derive(parent: nil, kind: kind + " --link", parts: actionParts)
            let key = CacheKey.derive(parent: state.key, kind: "LINK", parts: [linkKey.value])
            let owner = try await linkOwner(copy.chown, layers: state.layers)
            try await fileSystemStep(
                &state, position: position, title: title, key: key, createdBy: historyText(.copy(copy)),
                inputs: inputs
            ) { _ in
                try await linkedLayer(linkKey, parent: stateCopy.layers.last) { rootPath in
                    try await placement.place(
                        in: rootPath, owner: owner, downloads: &downloads, checksum: copy.checksum)
                }
            }
            return
        }
        let key = CacheKey.derive(parent: state.key, kind: kind, parts: actionParts)
        // The same COPY in any build: what the previous run placed is where unchanged files are
        // linked from.
        let lineage = CacheKey.derive(
            parent: nil, kind: kind + " lineage",
            parts: [root.label, root.ignore == nil ? "" : root.hostPath, copy.info.original, destination])
        try await fileSystemStep(
            &state, position: position, title: title, key: key, createdBy: historyText(.copy(copy)), inputs: inputs
        ) { _ in
            var linker: CopyLinker?
            let snapshot = try await withMountedStep(stateCopy) { active in
                let rootPath = active.rootPath
                let owner = try copy.chown.map { try UserDatabase.resolve($0, in: rootPath) } ?? (0, 0)
                if let digests {
                    linker = CopyLinker(
                        upperRoot: active.upperPath, digests: digests, previous: await previousCopy(lineage))
                }
                try await placement.place(
                    in: rootPath, owner: owner, downloads: &downloads, checksum: copy.checksum,
                    upper: (active.upperPath, linker))
                try linker?.writeManifest(into: active.directory)
            }
            if linker != nil, let chain = snapshot?.chainID,
                let json = try? JSONEncoder().encode(StepRecord(chain: chain.description, created: session.timestamp()))
            {
                try await session.store.putCacheRecord(
                    lineage.value, result: String(decoding: json, as: UTF8.self), snapshot: chain)
            }
            return snapshot
        }
    }

    /// The snapshot the last run of the COPY with lineage key `lineage` made, and what it placed.
    private func previousCopy(_ lineage: CacheKey) async -> CopyLinker.Previous? {
        guard let text = try? await session.store.cacheRecord(lineage.value),
            let record = try? JSONDecoder().decode(StepRecord.self, from: Data(text.utf8)),
            let chain = record.chain, let digest = try? Digest(parsing: chain),
            let snapshot = try? await session.store.snapshot(chainID: digest),
            let placed = CopyLinker.readManifest(in: session.snapshotter.directory(of: snapshot.id))
        else { return nil }
        return CopyLinker.Previous(root: session.snapshotter.filesPath(of: snapshot.id), placed: placed)
    }

    /// `--chown` for a `--link` copy: names are looked up in the image below (the copy itself
    /// runs on an empty tree).
    private func linkOwner(_ chown: String?, layers: [SnapshotRecord]) async throws -> (uid_t, gid_t) {
        guard let chown else { return (0, 0) }
        if layers.isEmpty { return try UserDatabase.resolve(chown, in: "/nonexistent-berth-root") }
        return try await session.snapshotter.withReadOnlyView(of: layers.reversed()) { root in
            try UserDatabase.resolve(chown, in: root)
        }
    }

    /// The snapshot of a `--link` layer on `parent`: the layer recorded under `linkKey` (made on
    /// another base) is laid on `parent` unchanged; otherwise `body` fills an empty upper directory.
    private func linkedLayer(
        _ linkKey: CacheKey, parent: SnapshotRecord?, _ body: (String) async throws -> Void
    ) async throws -> SnapshotRecord? {
        let snapshotter = session.snapshotter
        if !ignoresCache, let text = try await session.store.cacheRecord(linkKey.value),
            let record = try? JSONDecoder().decode(StepRecord.self, from: Data(text.utf8)),
            let chain = record.chain, let digest = try? Digest(parsing: chain),
            let layer = try await session.store.snapshot(chainID: digest),
            let diffID = layer.diffID, let layerDigest = layer.layerDigest, let size = layer.size,
            (try? await snapshotter.blobFile(layerDigest)) != nil
        {
            return try await snapshotter.unpack(
                layer: Descriptor(mediaType: MediaType.ociLayer, digest: layerDigest, size: size), diffID: diffID,
                parent: parent)
        }
        let active = try await snapshotter.prepare(parent: parent)
        do {
            try await body(active.upperPath)
        } catch {
            try? await snapshotter.discard(active)
            throw error
        }
        let snapshot = try await snapshotter.commit(
            active, options: LayerWriteOptions(sourceDateEpoch: session.options.sourceDateEpoch), deferBlob: true)
        if let chain = snapshot.chainID,
            let json = try? JSONEncoder().encode(StepRecord(chain: chain.description, created: session.timestamp()))
        {
            try await session.store.putCacheRecord(
                linkKey.value, result: String(decoding: json, as: UTF8.self), snapshot: chain)
        }
        return snapshot
    }

    /// `--chmod` value: octal digits.
    static func parseMode(_ text: String) throws -> mode_t {
        guard let value = mode_t(text, radix: 8), value <= 0o7777 else {
            throw BuildError("invalid --chmod value '\(text)': expected octal permissions such as 755")
        }
        return value
    }
}

/// Files an ADD fetched, by URL; removed when the step is done.
struct DownloadSet {
    private(set) var byURL: [String: RemoteSource] = [:]
    mutating func add(_ source: RemoteSource) { byURL[source.url] = source }
    mutating func removeAll() {
        for source in byURL.values { unlink(source.path) }
        byURL = [:]
    }
}

/// Where a COPY/ADD puts what it selected, inside a root (the mounted stage, or an empty layer
/// for `--link`).
struct CopyPlacement {
    var copy: CopyCommand
    var destination: String
    var intoDirectory: Bool
    var items: [CopyItem]
    var heredocs: [Heredoc]
    var urls: [String]
    var chmod: mode_t?
    var root: SourceRoot
    var temporaryDirectory: String

    /// True when the copy is one directory (the commonest COPY: `COPY . /app`, `COPY src /src`)
    /// whose contents can be written straight into an upper directory (see
    /// ``FileCopier/copy(_:to:upperEquivalent:)``).
    var isSingleDirectory: Bool { Self.isSingleDirectory(items, heredocs: heredocs, urls: urls) }

    static func isSingleDirectory(_ items: [CopyItem], heredocs: [Heredoc], urls: [String]) -> Bool {
        items.count == 1 && items[0].keptPath == nil && items[0].selection.isDirectory && heredocs.isEmpty
            && urls.isEmpty
    }

    /// Places the sources in `rootPath`, the mounted root. `upper`: the mount's upper directory
    /// and a linker, for a single directory copied to a missing or empty directory.
    func place(
        in rootPath: String, owner: (uid_t, gid_t), downloads: inout DownloadSet, checksum: String?,
        upper: (path: String, linker: CopyLinker?)? = nil
    ) async throws {
        let (uid, gid) = owner
        var copier = FileCopier(uid: uid, gid: gid, chmod: chmod, sourceRoot: root)
        let target = try RootedPath.resolve(destination, in: rootPath)
        var st = stat()
        let existingDirectory = lstat(target, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
        if let upper, isSingleDirectory, !existingDirectory || Self.isEmptyDirectory(target),
            let below = target.relativePath(under: rootPath)
        {
            try makeParents(target, under: rootPath, uid: uid, gid: gid)
            copier.linker = upper.linker
            try copier.copy(items[0].selection, to: target, upperEquivalent: upper.path + "/" + below)
            return
        }
        for item in items {
            let selection = item.selection
            if let kept = item.keptPath, !kept.isEmpty {
                let path = try RootedPath.resolve(destination + "/" + kept, in: rootPath, followFinal: false)
                try makeParents(
                    selection.isDirectory ? path : path.parentPath, under: rootPath,
                    uid: uid, gid: gid)
                try copier.copy(selection, to: path)
            } else if selection.isDirectory {
                try makeParents(target, under: rootPath, uid: uid, gid: gid)
                try copier.copy(selection, to: target)
            } else if copy.isAdd, copy.unpack != false, (selection.status.st_mode & S_IFMT) == S_IFREG,
                LayerArchive.isTarArchive(selection.hostPath)
            {
                // ADD of a local archive: its entries land in the destination directory.
                try makeParents(target, under: rootPath, uid: uid, gid: gid)
                do {
                    try LayerArchive.extract(
                        archiveAt: selection.hostPath, into: target, temporaryDirectory: temporaryDirectory)
                } catch {
                    throw BuildError("ADD \(selection.relativePath): cannot extract the archive: \(error)")
                }
            } else if intoDirectory || existingDirectory {
                try makeParents(target, under: rootPath, uid: uid, gid: gid)
                try copier.copy(selection, to: target + "/" + selection.baseName)
            } else {
                try makeParents(target.parentPath, under: rootPath, uid: uid, gid: gid)
                try copier.copy(selection, to: target)
            }
        }
        for url in urls {
            let fetched: RemoteSource
            if let known = downloads.byURL[url] {
                fetched = known
            } else {
                fetched = try await RemoteSource.download(
                    url, to: temporaryDirectory + "/add-\(UUID().uuidString.lowercased())", checksum: checksum)
                downloads.add(fetched)
            }
            let file = intoDirectory || existingDirectory ? target + "/" + fetched.fileName : target
            try makeParents(file.parentPath, under: rootPath, uid: uid, gid: gid)
            let seconds = fetched.lastModified?.timeIntervalSince1970 ?? 0
            let mtime = fetched.lastModified == nil ? nil : timespec(tv_sec: Int(seconds), tv_nsec: 0)
            try copier.copyDownloaded(fetched.path, to: file, mode: 0o600, mtime: mtime)
        }
        for heredoc in heredocs {
            let file = intoDirectory || existingDirectory ? target + "/" + heredoc.name : target
            try makeParents(file.parentPath, under: rootPath, uid: uid, gid: gid)
            try copier.write(Array(heredoc.content.utf8), to: file, mode: 0o644)
        }
    }

    private static func isEmptyDirectory(_ path: String) -> Bool {
        guard let dir = opendir(path) else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if name != [UInt8(ascii: ".")] && name != [UInt8(ascii: "."), UInt8(ascii: ".")] { return false }
        }
        return true
    }
}
