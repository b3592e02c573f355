import ContainerRuntime
import Foundation
import ImageStore
import LayerArchive
import OCIImage
import Snapshots

#if canImport(Glibc)
    import Glibc
#endif

/// `berth import`: a root file system tarball (plain, gzip or zstd; `-` for stdin) becomes a
/// one-layer image.
public struct ImageImporter: Sendable {
    public let store: ImageStore

    public init(store: ImageStore) {
        self.store = store
    }

    /// Imports the tarball at `path` (`-`: standard input) as a one-layer image. `changes` are
    /// docker `--change` instructions applied to its config; `created` defaults to now, or to
    /// SOURCE_DATE_EPOCH when that is set.
    public func importTarball(
        _ path: String, as reference: ImageReference?, message: String? = nil, changes: [String] = [],
        created: Date? = nil
    ) async throws -> StoredImage {
        var containerConfig = ContainerConfig()
        try ConfigChange.apply(changes: changes, to: &containerConfig)
        var input = path
        var spooled: String?
        if path == "-" {
            let spool = store.temporaryPath("stdin")
            try Self.spoolStandardInput(to: spool)
            spooled = spool
            input = spool
        }
        defer { if let spooled { unlink(spooled) } }
        guard FileSystem.exists(input) else {
            throw StoreError.io(path: input, operation: "open tarball", errno: ENOENT)
        }
        let layerTemp = store.temporaryPath("import")
        let layer: LayerDigest
        do {
            layer = try LayerArchive.decompress(layerAt: input, to: layerTemp)
        } catch {
            unlink(layerTemp)
            throw error
        }
        let descriptor = try await store.ingestFile(
            at: layerTemp, digest: layer.diffID, size: layer.size, mediaType: MediaType.ociLayer)
        _ = try await Snapshotter(store: store).unpack(layer: descriptor, diffID: layer.diffID, parent: nil)
        let now =
            (created ?? SourceDateEpoch.fromEnvironment).map {
                Timestamp.rfc3339(epoch: Int64($0.timeIntervalSince1970))
            } ?? Timestamp.rfc3339(Date())
        let source = path == "-" ? "-" : path.lastComponent
        let config = ImageConfig(
            created: now, config: containerConfig, rootfs: RootFS(diffIDs: [layer.diffID]),
            history: [
                // The file's name, not its path: the same tarball imported anywhere gives the same image.
                History(
                    created: now, createdBy: "berth import \(source)", comment: message ?? "Imported from \(source)")
            ])
        let image = try await store.putImage(config: config, layers: [descriptor])
        if let reference {
            try await store.tag(image.id, as: reference)
        }
        return try await store.image(named: image.id.description)
    }

    static func spoolStandardInput(to path: String) throws {
        let out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw StoreError.io(path: path, operation: "create", errno: errno) }
        defer { close(out) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.io(path: "standard input", operation: "read", errno: errno)
            }
            if n == 0 { return }
            var offset = 0
            while offset < n {
                let w = buffer[offset..<n].withUnsafeBytes { write(out, $0.baseAddress, $0.count) }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw StoreError.io(path: path, operation: "write", errno: errno)
                }
                offset += w
            }
        }
    }
}
