import Foundation
import ImageStore
import LayerArchive
import OCIImage

/// `berth save`: images → a tar that is both a docker-archive (`manifest.json`, which every
/// `docker load` reads) and an OCI image layout (`oci-layout`, `index.json`, `blobs/`).
public struct ImageSaver: Sendable {
    public let store: ImageStore

    public init(store: ImageStore) {
        self.store = store
    }

    /// Writes `names` (references or ids) to `path` (`-` for stdout).
    public func save(_ names: [String], to path: String) async throws {
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
            images.append((image, tags))
        }
        let writer = try ImageArchiveWriter(path: path)
        var written = Set<Digest>()
        try writer.addFile("oci-layout", bytes: Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
        try writer.addDirectory("blobs/")
        try writer.addDirectory("blobs/sha256/")
        var manifestEntries: [Entry] = []
        var indexEntries: [Descriptor] = []
        for (image, tags) in images {
            for digest in [image.id, image.manifestDigest] + image.manifest.layers.map(\.digest)
            where written.insert(digest).inserted {
                guard store.hasBlob(digest) else { throw StoreError.blobNotFound(digest.description) }
                try writer.addFile(Self.blobName(digest), contentsOf: store.blobPath(digest))
            }
            manifestEntries.append(
                Entry(
                    Config: Self.blobName(image.id), RepoTags: tags.isEmpty ? nil : tags,
                    Layers: image.manifest.layers.map { Self.blobName($0.digest) }))
            let manifestSize = Int64(try await store.readBlob(image.manifestDigest).count)
            if tags.isEmpty {
                indexEntries.append(
                    Descriptor(mediaType: MediaType.ociManifest, digest: image.manifestDigest, size: manifestSize))
            }
            for tag in tags {
                let reference = try ImageReference(parsing: tag)
                indexEntries.append(
                    Descriptor(
                        mediaType: MediaType.ociManifest, digest: image.manifestDigest, size: manifestSize,
                        annotations: [
                            "io.containerd.image.name": reference.description,
                            "org.opencontainers.image.ref.name": reference.tag ?? "latest",
                        ]))
            }
        }
        try writer.addFile("index.json", bytes: try CanonicalJSON.encode(Index(manifests: indexEntries)))
        try writer.addFile("manifest.json", bytes: try CanonicalJSON.encode(manifestEntries))
        try writer.close()
    }

    static func blobName(_ digest: Digest) -> String {
        "blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"
    }
}
