import Foundation
import ImageStore
import LayerArchive
import OCIImage
import Snapshots

/// `berth save`: images → a tar that is both a docker-archive (`manifest.json`, which every
/// `docker load` reads) and an OCI image layout (`oci-layout`, `index.json`, `blobs/`), or, with
/// the `oci` format, an OCI image layout alone.
public struct ImageSaver: Sendable {
    public let store: ImageStore

    /// The archive's shape.
    public enum Format: String, Sendable, CaseIterable {
        /// docker-archive (`manifest.json`) that is also an OCI layout.
        case docker
        /// OCI image layout only.
        case oci
    }

    public init(store: ImageStore) {
        self.store = store
    }

    /// Writes `names` (references or ids) to `path` (`-` for stdout). With `compression`, layers
    /// are written compressed (copies made once and kept in the store) under a manifest that
    /// names the compressed blobs; the image id (the config) does not change. Names of one image
    /// share one entry (its `RepoTags` lists them all), as `docker save` writes them. Returns the
    /// descriptors of the manifests written, one per image, in order.
    @discardableResult
    public func save(
        _ names: [String], to path: String, format: Format = .docker, compression: LayerCompression? = nil
    ) async throws -> [Descriptor] {
        struct Entry: Encodable {
            var Config: String
            var RepoTags: [String]?
            var Layers: [String]
        }
        var images: [(StoredImage, [String])] = []
        for name in names {
            let image = try await store.image(named: name)
            // The names the user asked for, like docker: a tag stays a tag, an id gives no RepoTags.
            var tags: [String] = []
            if let reference = try? ImageReference(parsing: name), image.tags.contains(reference.description) {
                tags = [reference.familiarName]
            }
            if let index = images.firstIndex(where: { $0.0.id == image.id }) {
                images[index].1 += tags.filter { !images[index].1.contains($0) }
            } else {
                images.append((image, tags))
            }
        }
        var written: [Descriptor] = []
        let writer = try ImageArchiveWriter(path: path)
        var blobs = Set<Digest>()
        try writer.addFile("oci-layout", bytes: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
        try writer.addDirectory("blobs/")
        try writer.addDirectory("blobs/sha256/")
        var manifestEntries: [Entry] = []
        var indexEntries: [Descriptor] = []
        for (image, tags) in images {
            let (manifestDigest, manifestBytes, layers) = try await manifest(of: image, compression: compression)
            for digest in [image.id] + layers.map(\.digest) where blobs.insert(digest).inserted {
                // (A build's layer is written from its snapshot here if nothing has read it yet.)
                let path = try await Snapshotter(store: store).blobFile(digest)
                try writer.addFile(Self.blobName(digest), contentsOf: path)
            }
            if blobs.insert(manifestDigest).inserted {
                try writer.addFile(Self.blobName(manifestDigest), bytes: manifestBytes)
            }
            manifestEntries.append(
                Entry(
                    Config: Self.blobName(image.id), RepoTags: tags.isEmpty ? nil : tags,
                    Layers: layers.map { Self.blobName($0.digest) }))
            let manifestSize = Int64(manifestBytes.count)
            written.append(Descriptor(mediaType: MediaType.ociManifest, digest: manifestDigest, size: manifestSize))
            if tags.isEmpty {
                indexEntries.append(
                    Descriptor(mediaType: MediaType.ociManifest, digest: manifestDigest, size: manifestSize))
            }
            for tag in tags {
                let reference = try ImageReference(parsing: tag)
                indexEntries.append(
                    Descriptor(
                        mediaType: MediaType.ociManifest, digest: manifestDigest, size: manifestSize,
                        annotations: [
                            "io.containerd.image.name": reference.description,
                            "org.opencontainers.image.ref.name": reference.tag ?? "latest",
                        ]))
            }
        }
        try writer.addFile("index.json", bytes: try CanonicalJSON.encode(Index(manifests: indexEntries)))
        if format == .docker {
            try writer.addFile("manifest.json", bytes: try CanonicalJSON.encode(manifestEntries))
        }
        try writer.close()
        return written
    }

    /// The manifest to write for `image`: the stored one, or one naming compressed layers.
    private func manifest(
        of image: StoredImage, compression: LayerCompression?
    ) async throws -> (Digest, [UInt8], [Descriptor]) {
        let uncompressed = image.manifest.layers.allSatisfy {
            $0.mediaType == MediaType.ociLayer || $0.mediaType == MediaType.dockerLayer
        }
        guard let compression, uncompressed else {
            return (image.manifestDigest, try await store.readBlob(image.manifestDigest), image.manifest.layers)
        }
        let layers = try await LayerCompressor(store: store).compressed(image.manifest.layers, using: compression)
        var manifest = image.manifest
        manifest.layers = layers
        let bytes = try CanonicalJSON.encode(manifest)
        return (Digest.sha256(of: bytes), bytes, layers)
    }

    static func blobName(_ digest: Digest) -> String {
        "blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"
    }
}
