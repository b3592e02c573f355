import Foundation
import ImageStore
import LayerArchive
import OCIImage
import Registry

#if canImport(Glibc)
    import Glibc
#endif

/// `berth pull`: an image from a registry into the store. Indexes and manifest lists choose the
/// platform; Docker v2s2 and OCI manifests; gzip, zstd and uncompressed layers, downloaded in
/// parallel, each verified and stored uncompressed (the compressed copy is kept for push);
/// layers already in the store are not downloaded. The image keeps the registry's id.
public struct ImagePuller: Sendable {
    public let store: ImageStore
    public let settings: RegistrySettings
    /// Progress lines (docker's wording).
    public let report: @Sendable (String) -> Void

    public init(store: ImageStore, settings: RegistrySettings, report: @escaping @Sendable (String) -> Void) {
        self.store = store
        self.settings = settings
        self.report = report
    }

    static let manifestTypes = [
        MediaType.ociIndex, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.dockerManifest,
    ]

    /// Pulls `reference` for `platform`; returns the stored image (tagged as `reference`).
    public func pull(_ reference: ImageReference, platform: Platform = .host) async throws -> StoredImage {
        var lastError: (any Error)?
        for endpoint in settings.endpoints(for: reference) {
            do {
                return try await pull(reference, platform: platform, from: endpoint)
            } catch let error as RegistryError {
                if case .unreachable = error {
                    lastError = error
                } else if endpoint.host
                    != RegistryEndpoint(
                        reference: reference, insecureRegistries: settings.insecureRegistries
                    ).host
                {
                    lastError = error  // a mirror failed: try the next one
                } else {
                    throw error
                }
            }
        }
        throw lastError ?? RegistryError.notFound(registry: reference.registry, reference: reference.description)
    }

    private func pull(
        _ reference: ImageReference, platform: Platform, from endpoint: RegistryEndpoint
    ) async throws -> StoredImage {
        let client = RegistryClient(endpoint: endpoint, credentials: settings.credentials(for: reference.registry))
        let wanted = reference.digest?.description ?? reference.tag ?? "latest"
        report("\(wanted): Pulling from \(endpoint.repository)")
        var fetched = try await client.manifest(wanted, accept: Self.manifestTypes)
        let topDigest = fetched.digest
        if let index = try? JSONDecoder().decode(Index.self, from: fetched.data), !index.manifests.isEmpty,
            (try? JSONDecoder().decode(Manifest.self, from: fetched.data)) == nil
        {
            let choice = try Self.choose(index, platform: platform, reference: reference.description)
            fetched = try await client.manifest(choice.digest.description, accept: Self.manifestTypes)
        }
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: fetched.data)
        } catch {
            throw RegistryError.invalid(
                registry: reference.registry, detail: "manifest of \(reference) cannot be read: \(error)")
        }
        let configPath = store.temporaryPath("pull-config")
        defer { unlink(configPath) }
        try await client.downloadBlob(manifest.config.digest, to: configPath)
        let configBytes = try FileSystem.read(configPath)
        let config = try CanonicalJSON.decode(ImageConfig.self, from: configBytes, what: "image config of \(reference)")
        let diffIDs = config.rootfs.diffIDs
        guard diffIDs.count == manifest.layers.count else {
            throw RegistryError.invalid(
                registry: reference.registry,
                detail: "\(reference): \(manifest.layers.count) layers but \(diffIDs.count) diff_ids")
        }
        let layers = try await fetchLayers(manifest.layers, diffIDs: diffIDs, client: client)
        for blob in manifest.layers.map(\.digest) + [manifest.config.digest] {
            try await store.recordBlobSource(blob, registry: reference.registry, repository: reference.repository)
        }
        let image = try await store.putImage(configBytes: configBytes, config: config, layers: layers)
        if reference.digest == nil { try await store.tag(image.id, as: reference) }
        report("Digest: \(topDigest)")
        report("Status: Downloaded image for \(reference.familiarName)")
        return try await store.image(named: image.id.description)
    }

    /// The manifest for `platform` in an index (variant only when asked for).
    static func choose(_ index: Index, platform: Platform, reference: String) throws -> Descriptor {
        let candidates = index.manifests.filter { descriptor in
            guard let p = descriptor.platform else { return false }
            return p.os == platform.os && p.architecture == platform.architecture
                && (platform.variant == nil || p.variant == platform.variant)
        }
        guard let choice = candidates.first else {
            throw RegistryError.noMatchingPlatform(
                reference: reference, wanted: platform.description,
                available: index.manifests.compactMap { $0.platform?.description })
        }
        return choice
    }

    /// Downloads the layers that are not in the store yet, four at a time.
    private func fetchLayers(_ layers: [Descriptor], diffIDs: [Digest], client: RegistryClient) async throws
        -> [Descriptor]
    {
        try await Array(layers.indices).concurrentMap(limit: 4) { index in
            try await fetchLayer(layers[index], diffID: diffIDs[index], client: client)
        }
    }

    private func fetchLayer(_ layer: Descriptor, diffID: Digest, client: RegistryClient) async throws -> Descriptor {
        let short = String(layer.digest.encoded.prefix(12))
        if store.hasBlob(diffID) {
            report("\(short): Already exists")
            return Descriptor(
                mediaType: MediaType.ociLayer, digest: diffID, size: Self.fileSize(store.blobPath(diffID)))
        }
        let download = store.temporaryPath("pull-layer")
        defer { unlink(download) }
        try await client.downloadBlob(layer.digest, to: download)
        report("\(short): Download complete")
        let compression: LayerCompression? =
            layer.mediaType.hasSuffix("zstd") ? .zstd : (layer.mediaType.hasSuffix("gzip") ? .gzip : nil)
        let plain: String
        let uncompressed: LayerDigest
        if compression == nil && !LayerArchive.isCompressed(download) {
            plain = download
            uncompressed = LayerDigest(diffID: layer.digest, size: Self.fileSize(download))
        } else {
            plain = store.temporaryPath("pull-plain")
            uncompressed = try LayerArchive.decompress(layerAt: download, to: plain)
        }
        defer { if plain != download { unlink(plain) } }
        guard uncompressed.diffID == diffID else {
            throw RegistryError.digestMismatch(
                registry: client.endpoint.registry, what: "layer \(layer.digest) (uncompressed)",
                expected: diffID.description, actual: uncompressed.diffID.description)
        }
        if plain != download, let compression {
            // Keep the registry's compressed blob: a push of this image sends it unchanged.
            let kept = try await store.ingestFile(
                at: download, digest: layer.digest, size: Self.fileSize(download), mediaType: layer.mediaType)
            let stored = try await store.ingestFile(
                at: plain, digest: diffID, size: uncompressed.size, mediaType: MediaType.ociLayer)
            try await store.recordCompressedLayer(diffID: diffID, algorithm: compression.rawValue, compressed: kept)
            report("\(short): Pull complete")
            return stored
        }
        let stored = try await store.ingestFile(
            at: plain, digest: diffID, size: uncompressed.size, mediaType: MediaType.ociLayer)
        report("\(short): Pull complete")
        return stored
    }

    static func fileSize(_ path: String) -> Int64 {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : 0
    }
}
