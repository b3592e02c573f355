import Foundation
import OCIImage
import Testing

@testable import ImageStore

/// A store in a fresh temporary directory, removed at the end of the test.
func withTemporaryStore(_ body: (ImageStore, String) async throws -> Void) async throws {
    let root = NSTemporaryDirectory() + "berth-store-test-" + UUID().uuidString
    defer { try? FileSystem.removeTree(root) }
    let store = try ImageStore(root: root)
    try await body(store, root)
}

@Suite struct ImageStoreTests {
    @Test func blobsAreContentAddressedAndVerified() async throws {
        try await withTemporaryStore { store, root in
            let descriptor = try await store.putBlob(Array("hello".utf8), mediaType: "text/plain")
            #expect(descriptor.digest == Digest.sha256(of: Array("hello".utf8)))
            #expect(store.blobPath(descriptor.digest) == "\(root)/blobs/sha256/\(descriptor.digest.encoded)")
            #expect(try await store.readBlob(descriptor.digest) == Array("hello".utf8))
            // A corrupted blob is refused on read.
            try FileSystem.writeAtomically(
                Array("evil".utf8), to: store.blobPath(descriptor.digest), temporary: root + "/tmp/x")
            await #expect(throws: StoreError.self) { try await store.readBlob(descriptor.digest) }
        }
    }

    @Test func imagesTagsAndLookups() async throws {
        try await withTemporaryStore { store, _ in
            let layer = try await store.putBlob(Array(repeating: 0, count: 1024), mediaType: MediaType.ociLayer)
            let config = ImageConfig(created: "2026-01-01T00:00:00Z", rootfs: RootFS(diffIDs: [layer.digest]))
            let image = try await store.putImage(config: config, layers: [layer])
            let reference = try ImageReference(parsing: "app:1")
            try await store.tag(image.id, as: reference)
            #expect(try await store.image(named: "app:1").id == image.id)
            #expect(try await store.image(named: "docker.io/library/app:1").id == image.id)
            #expect(try await store.image(named: image.id.description).id == image.id)
            #expect(try await store.image(named: String(image.id.encoded.prefix(8))).id == image.id)
            #expect(try await store.image(named: "app:1").tags == [reference.description])
            await #expect(throws: StoreError.self) { try await store.image(named: "app:2") }
            #expect(try await store.untag(reference))
            #expect(try await store.images().count == 1)
            #expect(try await store.images().first?.tags.isEmpty == true)
        }
    }

    @Test func reopeningKeepsDataAndSchema() async throws {
        try await withTemporaryStore { store, root in
            try await store.putCacheRecord("k", result: "{}")
            let again = try ImageStore(root: root)
            #expect(try await again.cacheRecord("k") == "{}")
            #expect(try await again.cacheRecord("missing") == nil)
        }
    }

    @Test func snapshotLifecycle() async throws {
        try await withTemporaryStore { store, _ in
            let id = try await store.createActiveSnapshot(parent: nil)
            #expect(try await store.activeSnapshots().map(\.id) == [id])
            let layer = try await store.putBlob([1, 2, 3], mediaType: MediaType.ociLayer)
            try await store.commitSnapshot(id, chainID: layer.digest, diffID: layer.digest, layer: layer)
            let record = try #require(try await store.snapshot(chainID: layer.digest))
            #expect(record.id == id && record.isCommitted && record.size == 3)
            #expect(try await store.activeSnapshots().isEmpty)
            try await store.deleteSnapshotRecord(id)
            #expect(try await store.snapshot(chainID: layer.digest) == nil)
        }
    }
}
