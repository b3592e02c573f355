import Foundation
import ImageStore
import LayerArchive
import OCIImage
import Registry
import Snapshots

#if canImport(Glibc)
    import Glibc
#endif

/// Where build cache goes (`--cache-to`) or comes from (`--cache-from`): a registry reference
/// or a local OCI layout directory, as BuildKit's `type=registry,ref=R[,mode=min|max]` and
/// `type=local,dest=DIR` / `type=local,src=DIR`.
public struct CacheLocation: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case registry(ImageReference)
        case local(String)
    }

    public var kind: Kind
    /// `max`: every stage's steps; `min` (default): the final stage's only.
    public var exportsAllStages: Bool

    /// Parses `type=registry,ref=…[,mode=max]` or `type=local,dest=…|src=…`.
    public static func parse(_ text: String, flag: String) throws -> CacheLocation {
        if !text.contains("=") {  // the short form: a registry reference
            return CacheLocation(kind: .registry(try ImageReference(parsing: text)), exportsAllStages: false)
        }
        var fields: [String: String] = [:]
        for part in text.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { throw BuildError("invalid \(flag) '\(text)': expected key=value pairs") }
            fields[pair[0]] = pair[1]
        }
        let mode = fields["mode"] ?? "min"
        guard mode == "min" || mode == "max" else { throw BuildError("invalid \(flag) '\(text)': mode is min or max") }
        switch fields["type"] ?? "registry" {
        case "registry":
            guard let ref = fields["ref"] else { throw BuildError("invalid \(flag) '\(text)': ref=… is required") }
            return CacheLocation(kind: .registry(try ImageReference(parsing: ref)), exportsAllStages: mode == "max")
        case "local":
            guard let directory = fields["dest"] ?? fields["src"] else {
                throw BuildError("invalid \(flag) '\(text)': dest=DIR (or src=DIR) is required")
            }
            return CacheLocation(kind: .local(directory), exportsAllStages: mode == "max")
        default:
            throw BuildError("invalid \(flag) '\(text)': type must be registry or local")
        }
    }
}

/// The exported cache: step records with the layers their snapshots are made of.
struct CacheManifestConfig: Codable, Sendable {
    struct Record: Codable, Sendable {
        var key: String
        var created: String
        /// The step's snapshot chain, bottom first (empty when the step changed no files).
        var diffIDs: [String]
        var changedFiles: Bool
    }

    var records: [Record]
    /// Uncompressed diff id → the compressed blob that carries it.
    var layers: [String: Descriptor]

    static let mediaType = "application/vnd.berth.build-cache.config.v1+json"
}

/// One step record used by the build, for export.
struct UsedStep: Sendable {
    var key: String
    var record: StepRecord
    var stage: Int
}

/// Writes a build's cache to a registry or a local OCI layout.
struct CacheExporter {
    let store: ImageStore
    let settings: RegistrySettings

    func export(_ steps: [UsedStep], to location: CacheLocation) async throws {
        let snapshotter = Snapshotter(store: store)
        var records: [CacheManifestConfig.Record] = []
        var layersByDiffID: [String: Descriptor] = [:]
        var uncompressed: [Descriptor] = []
        for step in steps {
            var diffIDs: [String] = []
            if let chain = step.record.chain, let digest = try? Digest(parsing: chain),
                let top = try await store.snapshot(chainID: digest)
            {
                for snapshot in try await snapshotter.lowerChain(from: top).reversed() {
                    guard let diffID = snapshot.diffID, let layer = snapshot.layerDigest else { continue }
                    diffIDs.append(diffID.description)
                    if layersByDiffID[diffID.description] == nil {
                        layersByDiffID[diffID.description] = Descriptor(
                            mediaType: MediaType.ociLayer, digest: layer, size: snapshot.size ?? 0)
                        uncompressed.append(
                            Descriptor(mediaType: MediaType.ociLayer, digest: layer, size: snapshot.size ?? 0))
                    }
                }
            }
            records.append(
                .init(
                    key: step.key, created: step.record.created, diffIDs: diffIDs,
                    changedFiles: step.record.chain != nil))
        }
        let compressed = try await LayerCompressor(store: store).compressed(uncompressed, using: .gzip)
        var mapping: [String: Descriptor] = [:]
        for (plain, packed) in zip(uncompressed, compressed) { mapping[plain.digest.description] = packed }
        let config = CacheManifestConfig(records: records, layers: mapping)
        let configBytes = try CanonicalJSON.encode(config)
        let configDigest = Digest.sha256(of: configBytes)
        let manifest = Manifest(
            mediaType: MediaType.ociManifest,
            config: Descriptor(
                mediaType: CacheManifestConfig.mediaType, digest: configDigest, size: Int64(configBytes.count)),
            layers: compressed)
        let manifestBytes = try CanonicalJSON.encode(manifest)
        switch location.kind {
        case .registry(let reference):
            let endpoint = RegistryEndpoint(reference: reference, insecureRegistries: settings.insecureRegistries)
            let client = RegistryClient(endpoint: endpoint, credentials: settings.credentials(for: reference.registry))
            for layer in compressed { try await client.uploadBlob(layer.digest, from: store.blobPath(layer.digest)) }
            let configPath = store.temporaryPath("cache-config")
            defer { unlink(configPath) }
            try FileSystem.writeAtomically(configBytes, to: configPath, temporary: configPath + ".tmp")
            try await client.uploadBlob(configDigest, from: configPath)
            _ = try await client.putManifest(
                Data(manifestBytes), mediaType: MediaType.ociManifest, reference: reference.tag ?? "latest")
        case .local(let directory):
            try FileSystem.makeDirectory(directory + "/blobs/sha256")
            for layer in compressed {
                let target = directory + "/blobs/sha256/" + layer.digest.encoded
                if !FileSystem.exists(target) {
                    try FileManager.default.copyItem(atPath: store.blobPath(layer.digest), toPath: target)
                }
            }
            for (digest, bytes) in [(configDigest, configBytes), (Digest.sha256(of: manifestBytes), manifestBytes)] {
                let target = directory + "/blobs/sha256/" + digest.encoded
                try FileSystem.writeAtomically(bytes, to: target, temporary: target + ".tmp")
            }
            let index = Index(manifests: [
                Descriptor(
                    mediaType: MediaType.ociManifest, digest: Digest.sha256(of: manifestBytes),
                    size: Int64(manifestBytes.count), annotations: ["org.opencontainers.image.ref.name": "cache"])
            ])
            let indexPath = directory + "/index.json"
            try FileSystem.writeAtomically(
                try CanonicalJSON.encode(index), to: indexPath, temporary: indexPath + ".tmp")
            let layoutPath = directory + "/oci-layout"
            try FileSystem.writeAtomically(
                Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), to: layoutPath, temporary: layoutPath + ".tmp")
        }
    }
}

/// Cache records offered by `--cache-from` sources; a record is turned into local snapshots
/// (downloading only the layers the store lacks) the first time a step's key matches.
actor ImportedCache {
    private let store: ImageStore
    private let settings: RegistrySettings
    private var records:
        [String: (record: CacheManifestConfig.Record, layers: [String: Descriptor], source: CacheLocation)] = [:]

    init(store: ImageStore, settings: RegistrySettings) {
        self.store = store
        self.settings = settings
    }

    /// Reads the cache manifest of every source (a source that cannot be read is skipped with
    /// a warning, as BuildKit does).
    func load(_ sources: [CacheLocation], warn: (String) -> Void) async {
        for source in sources {
            do {
                let config = try await fetchConfig(source)
                for record in config.records where records[record.key] == nil {
                    records[record.key] = (record, config.layers, source)
                }
            } catch {
                warn("cannot import cache from \(source.kind): \(error)")
            }
        }
    }

    private func fetchConfig(_ source: CacheLocation) async throws -> CacheManifestConfig {
        let manifestBytes: [UInt8]
        switch source.kind {
        case .registry(let reference):
            let client = client(for: reference)
            let fetched = try await client.manifest(
                reference.digest?.description ?? reference.tag ?? "latest", accept: [MediaType.ociManifest])
            manifestBytes = Array(fetched.data)
            let manifest = try CanonicalJSON.decode(Manifest.self, from: manifestBytes, what: "cache manifest")
            let path = store.temporaryPath("cache-config")
            defer { unlink(path) }
            try await client.downloadBlob(manifest.config.digest, to: path)
            return try CanonicalJSON.decode(
                CacheManifestConfig.self, from: try FileSystem.read(path), what: "cache config")
        case .local(let directory):
            let index = try CanonicalJSON.decode(
                Index.self, from: try FileSystem.read(directory + "/index.json"), what: "\(directory)/index.json")
            guard let entry = index.manifests.first else {
                throw BuildError("\(directory)/index.json lists no manifest")
            }
            manifestBytes = try Self.verifiedBlob(directory, entry.digest)
            let manifest = try CanonicalJSON.decode(Manifest.self, from: manifestBytes, what: "cache manifest")
            return try CanonicalJSON.decode(
                CacheManifestConfig.self, from: try Self.verifiedBlob(directory, manifest.config.digest),
                what: "cache config")
        }
    }

    private func client(for reference: ImageReference) -> RegistryClient {
        RegistryClient(
            endpoint: RegistryEndpoint(reference: reference, insecureRegistries: settings.insecureRegistries),
            credentials: settings.credentials(for: reference.registry))
    }

    private static func verifiedBlob(_ directory: String, _ digest: Digest) throws -> [UInt8] {
        let bytes = try FileSystem.read(directory + "/blobs/sha256/" + digest.encoded)
        guard digest.matches(bytes) else {
            throw BuildError("blob \(digest) in \(directory) does not match its digest")
        }
        return bytes
    }

    /// The record for `key`, with its snapshots present in the store, or nil.
    func materialize(_ key: String, snapshotter: Snapshotter) async throws -> StepRecord? {
        guard let entry = records[key] else { return nil }
        var parent: SnapshotRecord?
        for text in entry.record.diffIDs {
            let diffID = try Digest(parsing: text)
            let chain = RootFS.chainID(parent: parent?.chainID, diffID: diffID)
            if let existing = try await store.snapshot(chainID: chain),
                FileSystem.exists(snapshotter.filesPath(of: existing.id))
            {
                parent = existing
                continue
            }
            if try await !store.blobIsAvailable(diffID) {
                guard let packed = entry.layers[text] else { return nil }
                try await fetchLayer(packed, diffID: diffID, from: entry.source)
            }
            let blob = try await snapshotter.blobFile(diffID)
            let size = Int64((try? FileManager.default.attributesOfItem(atPath: blob)[.size] as? Int) ?? 0)
            parent = try await snapshotter.unpack(
                layer: Descriptor(mediaType: MediaType.ociLayer, digest: diffID, size: size), diffID: diffID,
                parent: parent)
        }
        let record = StepRecord(
            chain: entry.record.changedFiles ? parent?.chainID?.description : nil, created: entry.record.created)
        if let json = try? JSONEncoder().encode(record) {
            try await store.putCacheRecord(
                key, result: String(decoding: json, as: UTF8.self),
                snapshot: record.chain.flatMap { try? Digest(parsing: $0) })
        }
        return record
    }

    /// Brings one compressed layer in, verifies it decompresses to `diffID`, stores both forms.
    private func fetchLayer(_ packed: Descriptor, diffID: Digest, from source: CacheLocation) async throws {
        let download = store.temporaryPath("cache-layer")
        let plain = store.temporaryPath("cache-plain")
        defer {
            unlink(download)
            unlink(plain)
        }
        switch source.kind {
        case .registry(let reference):
            try await client(for: reference).downloadBlob(packed.digest, to: download)
        case .local(let directory):
            let bytes = try Self.verifiedBlob(directory, packed.digest)
            try FileSystem.writeAtomically(bytes, to: download, temporary: download + ".tmp")
        }
        let layer = try LayerArchive.decompress(layerAt: download, to: plain)
        guard layer.diffID == diffID else {
            throw BuildError("cache layer \(packed.digest) decompresses to \(layer.diffID), expected \(diffID)")
        }
        let kept = try await store.ingestFile(
            at: download, digest: packed.digest, size: packed.size, mediaType: MediaType.ociLayerGzip)
        _ = try await store.ingestFile(at: plain, digest: diffID, size: layer.size, mediaType: MediaType.ociLayer)
        try await store.recordCompressedLayer(diffID: diffID, algorithm: "gzip", compressed: kept)
    }
}
