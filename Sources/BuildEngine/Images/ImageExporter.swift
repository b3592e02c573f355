import Foundation
import ImageStore
import LayerArchive
import OCIImage
import Snapshots

/// `berth export`: an image's flattened file system as one tar.
public struct ImageExporter: Sendable {
    public let store: ImageStore

    public init(store: ImageStore) {
        self.store = store
    }

    /// Writes the file system of `name` to `path` (`-` for standard output).
    public func export(_ name: String, to path: String) async throws {
        let image = try await store.image(named: name)
        let snapshotter = Snapshotter(store: store)
        let chain = Array(try await snapshotter.snapshots(of: image).reversed())
        let output = path == "-" ? "/dev/stdout" : path
        try await snapshotter.withReadOnlyView(of: chain) { root in
            _ = try LayerArchive.writeTree(
                directory: root, to: output, options: .init(preserveHoles: true), skipOverlayWhiteouts: true)
        }
    }
}
