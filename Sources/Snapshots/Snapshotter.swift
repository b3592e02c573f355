import Foundation
import ImageStore
import LayerArchive
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// The overlayfs snapshotter.
///
/// A snapshot is a directory holding one layer in overlay form (whiteouts as 0:0 character devices,
/// opaque directories marked with `trusted.overlay.opaque`). A build step prepares an active
/// snapshot (an empty upper directory), mounts it over its parents' snapshots, and commits it: the
/// upper directory becomes an immutable snapshot and its diff becomes a layer tar blob.
public struct Snapshotter: Sendable {
    public let store: ImageStore

    public init(store: ImageStore) {
        self.store = store
    }

    /// Directory of snapshot `id`: `fs/` holds its files.
    public func directory(of id: Int64) -> String {
        "\(store.snapshotsDirectory)/\(id)"
    }

    /// The files of snapshot `id`.
    public func filesPath(of id: Int64) -> String {
        directory(of: id) + "/fs"
    }

    /// Starts a new snapshot with an empty upper directory.
    public func prepare(parent: SnapshotRecord?) async throws(SnapshotError) -> ActiveSnapshot {
        do {
            let id = try await store.createActiveSnapshot(parent: parent?.id)
            let dir = directory(of: id)
            try FileSystem.removeTree(dir)  // a leftover of an interrupted run with a reused id
            for sub in ["", "/fs", "/work", "/root"] {
                try FileSystem.makeDirectory(dir + sub)
            }
            return ActiveSnapshot(id: id, directory: dir, parent: parent)
        } catch {
            throw .store(error)
        }
    }

    /// Starts a throw-away upper directory for a container that is removed when it exits
    /// (`run --rm`): it lives under the store's `tmp/` and is never recorded, so starting one
    /// costs no database write.
    public func prepareScratch(parent: SnapshotRecord?) throws(SnapshotError) -> ActiveSnapshot {
        try prepareContainer(directory: store.temporaryPath("container"), parent: parent)
    }

    /// An upper directory for a kept container, in `directory` (the container's own directory):
    /// `fs/` (upper), `work/`, `root/` (mount point). Existing contents are kept, so a stopped
    /// container starts again with its changes.
    public func prepareContainer(directory dir: String, parent: SnapshotRecord?) throws(SnapshotError) -> ActiveSnapshot
    {
        do {
            for sub in ["", "/fs", "/work", "/root"] {
                try FileSystem.makeDirectory(dir + sub)
            }
        } catch {
            throw .store(error)
        }
        return ActiveSnapshot(id: -1, directory: dir, parent: parent)
    }

    /// Removes a scratch snapshot made by ``prepareScratch(parent:)``.
    public func discardScratch(_ active: ActiveSnapshot) throws(SnapshotError) {
        try unmount(active)
        do {
            try FileSystem.removeTree(active.directory)
        } catch {
            throw .store(error)
        }
    }

    /// Mounts `active` as the upper layer over `lowers` (topmost first) at `active.rootPath`.
    /// With no lowers (FROM scratch) an empty directory serves as the lower layer.
    ///
    /// `volatile`: for an upper directory mounted once and then committed or thrown away (a build
    /// step, a `run --rm` container). Overlayfs then skips syncing the upper directory's file
    /// system, which it otherwise does at every unmount: the whole file system, 0.2 s after a step
    /// wrote 220 MB. The files reach the disk through the kernel's writeback as any file does
    /// (buildah mounts its build containers so too). Such an upper directory cannot be mounted
    /// again (overlayfs refuses while `work/work/incompat/volatile` exists), so kept containers,
    /// which start again on the same directory, never use it. Kernels before 5.10 do not know the
    /// option; the mount is then made without it.
    public func mount(_ active: ActiveSnapshot, lowers: [SnapshotRecord], volatile: Bool = false)
        throws(SnapshotError)
    {
        var lowerPaths = lowers.map { filesPath(of: $0.id) }
        if lowerPaths.isEmpty {
            let empty = store.snapshotsDirectory + "/empty"
            do { try FileSystem.makeDirectory(empty) } catch { throw .store(error) }
            lowerPaths = [empty]
        }
        let options =
            "lowerdir=\(lowerPaths.joined(separator: ":")),upperdir=\(active.upperPath),workdir=\(active.workPath)"
            + ",redirect_dir=off,metacopy=off,index=off"
        guard options.utf8.count < 4000 else {
            throw .tooManyLayers(count: lowers.count)
        }
        if volatile, Glibc.mount("overlay", active.rootPath, "overlay", 0, options + ",volatile") == 0 {
            return
        }
        guard Glibc.mount("overlay", active.rootPath, "overlay", 0, options) == 0 else {
            throw .mount(target: active.rootPath, options: options, errno: errno)
        }
    }

    /// Unmounts the active snapshot's root (lazily if busy).
    public func unmount(_ active: ActiveSnapshot) throws(SnapshotError) {
        if umount2(active.rootPath, 0) != 0 {
            let code = errno
            if code == EINVAL || code == ENOENT { return }  // not mounted
            if umount2(active.rootPath, Int32(MNT_DETACH)) != 0 {
                throw .unmount(target: active.rootPath, errno: errno)
            }
        }
    }

    /// Turns the active snapshot's upper directory into a committed snapshot and a layer blob.
    /// When an identical layer already exists on the same parents, the existing snapshot is
    /// returned and the new directory discarded.
    ///
    /// `deferBlob`: only the layer's digest is computed now (the tar is streamed through the
    /// hash and dropped); the blob is recorded with how to write it again, and written from the
    /// snapshot the first time something reads it (``blobFile(_:)``). Committed snapshots never
    /// change and the writer gives the same bytes for the same tree, so that is the same blob. A
    /// build's layers are mostly never read as tars (BuildKit, too, makes blobs only on export).
    public func commit(
        _ active: ActiveSnapshot, options: LayerWriteOptions = .init(), deferBlob: Bool = false
    ) async throws(SnapshotError) -> SnapshotRecord {
        let blob: LayerBlob
        if deferBlob, let recipe = LayerRecipe(options) {
            blob = .deferred(recipe: recipe.encoded)
        } else {
            blob = .file(store.temporaryPath("layer"))
        }
        let layer: LayerDigest
        do {
            layer = try LayerArchive.writeDiff(upperDirectory: active.upperPath, to: blob.writePath, options: options)
        } catch {
            blob.remove()
            throw .layer(error.description)
        }
        return try await register(active, blob: blob, layer: layer)
    }

    /// The path of a layer blob, written first from its snapshot when the commit deferred it.
    /// Fails when the blob is neither on disk nor writable, or when the snapshot no longer gives
    /// the same bytes (its files were changed behind berth's back).
    public func blobFile(_ digest: Digest) async throws(SnapshotError) -> String {
        let path = store.blobPath(digest)
        if FileSystem.exists(path) { return path }
        let deferred: (recipe: String, snapshot: SnapshotRecord)?
        do {
            deferred = try await store.deferredBlob(digest)
        } catch {
            throw .store(error)
        }
        guard let deferred, let recipe = LayerRecipe(decoding: deferred.recipe) else {
            throw .store(.blobNotFound(digest.description))
        }
        let tarPath = store.temporaryPath("layer")
        let layer: LayerDigest
        do {
            layer = try LayerArchive.writeDiff(
                upperDirectory: filesPath(of: deferred.snapshot.id), to: tarPath, options: recipe.options)
        } catch {
            unlink(tarPath)
            throw .layer(error.description)
        }
        guard layer.diffID == digest else {
            unlink(tarPath)
            throw .layer(
                "layer \(digest): snapshot \(deferred.snapshot.id) now gives \(layer.diffID) (its files were changed);"
                    + " remove the images that use it and build them again")
        }
        do {
            _ = try await store.ingestFile(at: tarPath, digest: digest, size: layer.size, mediaType: MediaType.ociLayer)
            try await store.markBlobWritten(digest)
        } catch {
            unlink(tarPath)
            throw .store(error)
        }
        return path
    }

    /// Creates a committed snapshot by unpacking an uncompressed layer blob already in the store.
    public func unpack(
        layer: Descriptor, diffID: Digest, parent: SnapshotRecord?
    ) async throws(SnapshotError) -> SnapshotRecord {
        let chain = Self.chainID(parent: parent?.chainID, diffID: diffID)
        if let existing = try await existingSnapshot(chain) { return existing }
        let blob = try await blobFile(layer.digest)
        let active = try await prepare(parent: parent)
        do {
            _ = try LayerArchive.unpack(layerAt: blob, into: active.upperPath, mode: .overlay)
            try await store.commitSnapshot(active.id, chainID: chain, diffID: diffID, layer: layer)
        } catch let error as StoreError {
            try? await discard(active)
            // Another berth process committed the same layer on the same parents meanwhile.
            if let existing = try? await existingSnapshot(chain) { return existing }
            throw .store(error)
        } catch {
            try? await discard(active)
            throw .layer("\(error)")
        }
        finishDirectory(active)
        return SnapshotRecord(
            id: active.id, chainID: chain, parent: parent?.id, diffID: diffID, layerDigest: layer.digest,
            size: layer.size, isCommitted: true)
    }

    /// Removes an active snapshot: unmounts it, deletes its directory and its record.
    public func discard(_ active: ActiveSnapshot) async throws(SnapshotError) {
        try unmount(active)
        do {
            try FileSystem.removeTree(active.directory)
            try await store.deleteSnapshotRecord(active.id)
        } catch {
            throw .store(error)
        }
    }

    /// The chain of committed snapshots from `top` down to the base, topmost first.
    public func lowerChain(from top: SnapshotRecord?) async throws(SnapshotError) -> [SnapshotRecord] {
        var chain: [SnapshotRecord] = []
        var current = top
        while let record = current {
            chain.append(record)
            guard let parent = record.parent else { break }
            do {
                current = try await store.snapshot(id: parent)
            } catch {
                throw .store(error)
            }
        }
        return chain
    }

    /// OCI chain id: `diffID` alone for a base layer, else sha256 of "parentChain diffID".
    public static func chainID(parent: Digest?, diffID: Digest) -> Digest {
        RootFS.chainID(parent: parent, diffID: diffID)
    }

    /// Records the layer (its written blob, or a deferred one) and commits the snapshot.
    private func register(
        _ active: ActiveSnapshot, blob: LayerBlob, layer: LayerDigest
    ) async throws(SnapshotError) -> SnapshotRecord {
        let chain = Self.chainID(parent: active.parent?.chainID, diffID: layer.diffID)
        if let existing = try await existingSnapshot(chain) {
            blob.remove()
            try await discard(active)
            return existing
        }
        do {
            let descriptor: Descriptor
            switch blob {
            case .file(let tarPath):
                descriptor = try await store.ingestFile(
                    at: tarPath, digest: layer.diffID, size: layer.size, mediaType: MediaType.ociLayer)
            case .deferred(let recipe):
                try await store.recordDeferredBlob(
                    layer.diffID, size: layer.size, mediaType: MediaType.ociLayer, recipe: recipe)
                descriptor = Descriptor(mediaType: MediaType.ociLayer, digest: layer.diffID, size: layer.size)
            }
            try await store.commitSnapshot(active.id, chainID: chain, diffID: layer.diffID, layer: descriptor)
        } catch {
            blob.remove()
            // Another berth process committed the same layer on the same parents between the
            // look-up above and this commit (two builds of one Dockerfile): use its snapshot.
            if let existing = try? await existingSnapshot(chain) {
                try? await discard(active)
                return existing
            }
            throw .store(error)
        }
        finishDirectory(active)
        return SnapshotRecord(
            id: active.id, chainID: chain, parent: active.parent?.id, diffID: layer.diffID,
            layerDigest: layer.diffID, size: layer.size, isCommitted: true)
    }

    private func existingSnapshot(_ chain: Digest) async throws(SnapshotError) -> SnapshotRecord? {
        do {
            guard let record = try await store.snapshot(chainID: chain),
                FileSystem.exists(filesPath(of: record.id))
            else { return nil }
            return record
        } catch {
            throw .store(error)
        }
    }

    /// Drops the overlay work and mount directories of a committed snapshot.
    private func finishDirectory(_ active: ActiveSnapshot) {
        try? FileSystem.removeTree(active.workPath)
        rmdir(active.rootPath)
    }
}

/// A snapshot being written: an upper directory, overlay's work directory and a mount point.
public struct ActiveSnapshot: Sendable, Equatable {
    public var id: Int64
    public var directory: String
    public var parent: SnapshotRecord?

    /// The overlay upper directory: everything the step changes lands here.
    public var upperPath: String { directory + "/fs" }
    public var workPath: String { directory + "/work" }
    /// Where the merged root is mounted.
    public var rootPath: String { directory + "/root" }
}

/// Errors of the snapshotter.
public enum SnapshotError: Error, Sendable, CustomStringConvertible {
    case store(StoreError)
    case mount(target: String, options: String, errno: Int32)
    case unmount(target: String, errno: Int32)
    case layer(String)
    case tooManyLayers(count: Int)

    public var description: String {
        switch self {
        case .store(let error): error.description
        case .mount(let target, let options, let code):
            "mount overlay at \(target): \(String(cString: strerror(code))) (options \(options))"
        case .unmount(let target, let code): "unmount \(target): \(String(cString: strerror(code)))"
        case .layer(let message): message
        case .tooManyLayers(let count): "too many layers (\(count)) for one overlay mount"
        }
    }
}

/// How a deferred layer blob is written again: the writer's options that change its bytes.
/// Commits with options a recipe cannot say (holes, excluded paths) write their blob at once.
struct LayerRecipe: Codable, Equatable {
    var sourceDateEpoch: Int64?

    init?(_ options: LayerWriteOptions) {
        guard !options.preserveHoles, options.excludedPaths.isEmpty else { return nil }
        sourceDateEpoch = options.sourceDateEpoch
    }

    init?(decoding text: String) {
        guard let recipe = try? JSONDecoder().decode(LayerRecipe.self, from: Data(text.utf8)) else { return nil }
        self = recipe
    }

    var options: LayerWriteOptions { LayerWriteOptions(sourceDateEpoch: sourceDateEpoch) }
    var encoded: String {
        (try? JSONEncoder().encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// A committed layer's blob: a tar written to a temporary file (moved into the store), or
/// deferred (only hashed; written later from the snapshot by its recipe).
private enum LayerBlob {
    case file(String)
    case deferred(recipe: String)

    /// Where the tar goes while it is hashed.
    var writePath: String {
        switch self {
        case .file(let path): path
        case .deferred: "/dev/null"
        }
    }

    /// Removes the temporary file, if any.
    func remove() {
        if case .file(let path) = self { unlink(path) }
    }
}
