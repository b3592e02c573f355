import ImageStore
import OCIImage

extension Snapshotter {
    /// The committed snapshots of an image's layers, bottom first, unpacking the ones missing.
    public func snapshots(of image: StoredImage) async throws(SnapshotError) -> [SnapshotRecord] {
        let diffIDs = image.config.rootfs.diffIDs
        guard diffIDs.count == image.manifest.layers.count else {
            throw .layer(
                "image \(image.id) is inconsistent: \(diffIDs.count) diff_ids for \(image.manifest.layers.count) layers"
            )
        }
        var records: [SnapshotRecord] = []
        for (layer, diffID) in zip(image.manifest.layers, diffIDs) {
            do {
                records.append(try await unpack(layer: layer, diffID: diffID, parent: records.last))
            } catch {
                throw .layer("cannot unpack layer \(layer.digest) of image \(image.id): \(error)")
            }
        }
        return records
    }
}
