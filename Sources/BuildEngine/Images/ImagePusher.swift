import Foundation
import ImageStore
import LayerArchive
import OCIImage
import Registry

/// `berth push`: an image from the store to a registry as an OCI manifest with gzip layers
/// (compressed copies made once and kept). Blobs the repository has are not sent again, so a
/// push that was cut off resumes where it stopped.
public struct ImagePusher: Sendable {
    public let store: ImageStore
    public let settings: RegistrySettings
    public let report: @Sendable (String) -> Void

    public init(store: ImageStore, settings: RegistrySettings, report: @escaping @Sendable (String) -> Void) {
        self.store = store
        self.settings = settings
        self.report = report
    }

    /// Blobs larger than this go up in chunks (`$BERTH_PUSH_CHUNK_SIZE` bytes, default 64 MiB).
    static var chunkSize: Int {
        ProcessInfo.processInfo.environment["BERTH_PUSH_CHUNK_SIZE"].flatMap { Int($0) }.map { max($0, 1024) }
            ?? 64 << 20
    }

    /// Pushes `name` (an image in the store) as `reference`; returns the manifest digest.
    public func push(_ name: String, as reference: ImageReference) async throws -> Digest {
        let image = try await store.image(named: name)
        let endpoint = RegistryEndpoint(reference: reference, insecureRegistries: settings.insecureRegistries)
        let client = RegistryClient(endpoint: endpoint, credentials: settings.credentials(for: reference.registry))
        report("The push refers to repository [\(reference.registry)/\(reference.repository)]")
        let layers = try await LayerCompressor(store: store).compressed(image.manifest.layers, using: .gzip)
        let store = self.store
        let report = self.report
        let chunk = Self.chunkSize
        _ = try await (layers.map(\.digest) + [image.id]).concurrentMap(limit: 4) { digest in
            let source = try await store.blobSource(
                digest, registry: reference.registry, excluding: reference.repository)
            let result = try await client.uploadBlob(
                digest, from: store.blobPath(digest), mountFrom: source, chunkSize: chunk)
            try await store.recordBlobSource(digest, registry: reference.registry, repository: reference.repository)
            let short = digest.encoded.prefix(12)
            switch result {
            case .alreadyThere: report("\(short): Layer already exists")
            case .mounted: report("\(short): Mounted from \(source ?? "")")
            case .uploaded: report("\(short): Pushed")
            }
        }
        let configBytes = try await store.readBlob(image.id)
        let manifest = Manifest(
            mediaType: MediaType.ociManifest,
            config: Descriptor(mediaType: MediaType.ociConfig, digest: image.id, size: Int64(configBytes.count)),
            layers: layers)
        let data = Data(try CanonicalJSON.encode(manifest))
        let digest = try await client.putManifest(
            data, mediaType: MediaType.ociManifest,
            reference: reference.digest?.description ?? reference.tag ?? "latest")
        report("\(reference.tag ?? "latest"): digest: \(digest) size: \(data.count)")
        return digest
    }
}
