import Foundation
import ImageStore
import LayerArchive
import OCIImage
import Snapshots

/// Makes compressed copies of layer blobs for save and push, lazily: a copy made once is kept in
/// the store and reused. Missing copies are made in parallel, one layer per core.
public struct LayerCompressor: Sendable {
    public let store: ImageStore

    public init(store: ImageStore) {
        self.store = store
    }

    /// Descriptors of `layers` (uncompressed layer blobs, whose digests are their diff ids)
    /// compressed with `compression`, in the same order.
    public func compressed(_ layers: [Descriptor], using compression: LayerCompression) async throws -> [Descriptor] {
        var result = [Descriptor?](repeating: nil, count: layers.count)
        var missing: [Int] = []
        for (index, layer) in layers.enumerated() {
            if let kept = try await store.compressedLayer(diffID: layer.digest, algorithm: compression.rawValue) {
                result[index] = Descriptor(mediaType: compression.ociMediaType, digest: kept.digest, size: kept.size)
            } else {
                missing.append(index)
            }
        }
        let made = try await missing.concurrentMap(limit: ProcessInfo.processInfo.activeProcessorCount) { index in
            try await compress(layers[index], using: compression)
        }
        for (index, descriptor) in zip(missing, made) { result[index] = descriptor }
        return result.compactMap { $0 }
    }

    private func compress(_ layer: Descriptor, using compression: LayerCompression) async throws -> Descriptor {
        let source = try await Snapshotter(store: store).blobFile(layer.digest)
        let temporary = store.temporaryPath("compress")
        let digest: LayerDigest
        do {
            digest = try LayerArchive.compress(source, to: temporary, using: compression)
        } catch {
            unlink(temporary)
            throw error
        }
        let stored = try await store.ingestFile(
            at: temporary, digest: digest.diffID, size: digest.size, mediaType: compression.ociMediaType)
        try await store.recordCompressedLayer(diffID: layer.digest, algorithm: compression.rawValue, compressed: stored)
        return stored
    }
}
