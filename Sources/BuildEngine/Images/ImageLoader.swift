import ContainerRuntime
import Foundation
import ImageStore
import LayerArchive
import OCIImage
import Snapshots

#if canImport(Glibc)
    import Glibc
#endif

/// `berth load`: images from a `docker save` archive (engines before and after v25), an OCI
/// image-layout tar, or either gzip-compressed. Image ids are kept: configs are stored as
/// the exact bytes the archive carries, and every layer is checked against its diff ID.
public struct ImageLoader: Sendable {
    public let store: ImageStore

    public init(store: ImageStore) {
        self.store = store
    }

    /// A loaded image and the names it was saved under.
    public struct Loaded: Sendable {
        public var image: StoredImage
        public var tags: [String]
    }

    public func load(_ path: String) async throws -> [Loaded] {
        let work = store.temporaryPath("load")
        try FileSystem.makeDirectory(work)
        defer { try? FileSystem.removeTree(work) }
        var input = path
        if path == "-" {
            input = work + "/stdin.tar"
            try ImageImporter.spoolStandardInput(to: input)
        }
        // Unpack the outer archive (compressed or not) safely into the work directory.
        let outer = work + "/archive"
        try FileSystem.makeDirectory(outer)
        do {
            _ = try LayerArchive.unpack(layerAt: input, into: outer, mode: .apply)
        } catch {
            throw LoadError("\(path) is not an image archive: \(error)")
        }
        if FileSystem.exists(outer + "/manifest.json") {
            return try await loadDockerArchive(outer, path: path)
        }
        if FileSystem.exists(outer + "/index.json") {
            return try await loadOCILayout(outer, path: path)
        }
        throw LoadError("\(path) holds neither manifest.json (docker save) nor index.json (OCI layout)")
    }

    private func loadDockerArchive(_ dir: String, path: String) async throws -> [Loaded] {
        let entries: [DockerArchiveManifest]
        do {
            entries = try DockerArchiveManifest.decode(
                try FileSystem.read(dir + "/manifest.json"), what: "manifest.json")
        } catch {
            throw LoadError("\(path): manifest.json is not valid: \(error)")
        }
        var loaded: [Loaded] = []
        for entry in entries {
            let configBytes = try FileSystem.read(try inside(dir, entry.config, path))
            let layers = try entry.layers.map { try inside(dir, $0, path) }
            let image = try await store(configBytes: configBytes, layerFiles: layers, path: path)
            let tags = entry.repoTags ?? []
            for tag in tags { try await store.tag(image.id, as: try ImageReference(parsing: tag)) }
            loaded.append(Loaded(image: try await store.image(named: image.id.description), tags: tags))
        }
        return loaded
    }

    private func loadOCILayout(_ dir: String, path: String) async throws -> [Loaded] {
        let index = try CanonicalJSON.decode(
            Index.self, from: try FileSystem.read(dir + "/index.json"), what: "\(path) index.json")
        var loaded: [Loaded] = []
        var pending = index.manifests
        while !pending.isEmpty {
            let descriptor = pending.removeFirst()
            let bytes = try blob(dir, descriptor.digest, path)
            if MediaType.isIndex(descriptor.mediaType) {
                pending += try CanonicalJSON.decode(Index.self, from: bytes, what: "index \(descriptor.digest)")
                    .manifests
                continue
            }
            let manifest = try CanonicalJSON.decode(Manifest.self, from: bytes, what: "manifest \(descriptor.digest)")
            let configBytes = try blob(dir, manifest.config.digest, path)
            let layers = manifest.layers.map { dir + "/blobs/\($0.digest.algorithm.rawValue)/\($0.digest.encoded)" }
            let image = try await store(configBytes: configBytes, layerFiles: layers, path: path)
            var tags: [String] = []
            if let name = descriptor.annotations?["io.containerd.image.name"] {
                tags.append(name)
            } else if let tag = descriptor.annotations?["org.opencontainers.image.ref.name"], !tag.contains("/") {
                tags.append(tag)
            }
            for tag in tags {
                if let reference = try? ImageReference(parsing: tag) { try await store.tag(image.id, as: reference) }
            }
            loaded.append(Loaded(image: try await store.image(named: image.id.description), tags: tags))
        }
        return loaded
    }

    /// Stores one image: each layer decompressed, checked against the config's diff IDs, and
    /// unpacked into a snapshot, as `docker load` does — so a layer that cannot be unpacked (an
    /// entry through a symlink, outside the root, ...) is refused here, before the image or a tag
    /// exists, not at its first run.
    private func store(configBytes: [UInt8], layerFiles: [String], path: String) async throws -> StoredImage {
        let config = try CanonicalJSON.decode(ImageConfig.self, from: configBytes, what: "\(path) image config")
        guard config.rootfs.diffIDs.count == layerFiles.count else {
            throw LoadError(
                "\(path): the config lists \(config.rootfs.diffIDs.count) layers, the archive \(layerFiles.count)")
        }
        var descriptors: [Descriptor] = []
        let snapshotter = Snapshotter(store: store)
        var parent: SnapshotRecord?
        for (file, expected) in zip(layerFiles, config.rootfs.diffIDs) {
            let temporary = store.temporaryPath("layer")
            let digest: LayerDigest
            do {
                digest = try LayerArchive.decompress(layerAt: file, to: temporary)
            } catch {
                unlink(temporary)
                throw LoadError("\(path): layer \(file.lastComponent): \(error)")
            }
            guard digest.diffID == expected else {
                unlink(temporary)
                throw LoadError(
                    "\(path): layer \(file.lastComponent) has digest \(digest.diffID), the config expects \(expected)"
                )
            }
            let descriptor = try await store.ingestFile(
                at: temporary, digest: digest.diffID, size: digest.size, mediaType: MediaType.ociLayer)
            do {
                parent = try await snapshotter.unpack(layer: descriptor, diffID: digest.diffID, parent: parent)
            } catch {
                throw LoadError("\(path): layer \(file.lastComponent) cannot be unpacked: \(error)")
            }
            descriptors.append(descriptor)
        }
        return try await store.putImage(configBytes: configBytes, config: config, layers: descriptors)
    }

    private func blob(_ dir: String, _ digest: Digest, _ path: String) throws -> [UInt8] {
        let bytes = try FileSystem.read(dir + "/blobs/\(digest.algorithm.rawValue)/\(digest.encoded)")
        guard digest.matches(bytes) else { throw LoadError("\(path): blob \(digest) does not match its digest") }
        return bytes
    }

    /// A path named inside the archive, refused when it would leave it.
    private func inside(_ dir: String, _ name: String, _ path: String) throws -> String {
        let cleaned = RootedPath.clean(name)
        guard !name.contains("..") else { throw LoadError("\(path): entry '\(name)' points outside the archive") }
        return dir + cleaned
    }
}

/// A `load` failure naming the archive.
public struct LoadError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
