import Foundation
import ImageStore
import OCIImage
import Testing

@testable import Snapshots

/// Real overlay mounts in a temporary store; every test unmounts and removes what it made.
@Suite(.serialized) struct SnapshotterTests {
    func withSnapshotter(_ body: (Snapshotter, ImageStore) async throws -> Void) async throws {
        let root = NSTemporaryDirectory() + "berth-snap-" + UUID().uuidString
        defer { try? FileSystem.removeTree(root) }
        let store = try ImageStore(root: root)
        try await body(Snapshotter(store: store), store)
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        #expect(!mounts.contains(root), "mounts left under \(root)")
    }

    func write(_ text: String, _ path: String) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    @Test func commitTurnsTheUpperDirectoryIntoALayer() async throws {
        try await withSnapshotter { snapshotter, store in
            let base = try await snapshotter.prepare(parent: nil)
            try snapshotter.mount(base, lowers: [])
            try FileManager.default.createDirectory(
                atPath: base.rootPath + "/etc/keep", withIntermediateDirectories: true)
            try write("1", base.rootPath + "/etc/gone")
            try write("2", base.rootPath + "/etc/keep/f")
            try snapshotter.unmount(base)
            let first = try await snapshotter.commit(base)
            #expect(first.isCommitted)
            #expect(first.chainID == first.diffID)

            let next = try await snapshotter.prepare(parent: first)
            try snapshotter.mount(next, lowers: [first])
            #expect(try String(contentsOfFile: next.rootPath + "/etc/keep/f", encoding: .utf8) == "2")
            #expect(unlink(next.rootPath + "/etc/gone") == 0)
            try FileManager.default.removeItem(atPath: next.rootPath + "/etc/keep")
            try FileManager.default.createDirectory(
                atPath: next.rootPath + "/etc/keep", withIntermediateDirectories: true)
            try write("3", next.rootPath + "/etc/keep/new")
            try snapshotter.unmount(next)
            let second = try await snapshotter.commit(next)
            #expect(second.parent == first.id)
            #expect(second.chainID == Snapshotter.chainID(parent: first.chainID, diffID: try #require(second.diffID)))

            // The layer blob is the diff: a whiteout for the deleted file and an opaque marker.
            let tar = try #require(second.layerDigest)
            let listing = try Self.list(store.blobPath(tar))
            #expect(listing.contains("etc/.wh.gone"), "\(listing)")
            #expect(listing.contains("etc/keep/.wh..wh..opq"), "\(listing)")
            #expect(listing.contains("etc/keep/new"))

            // A read-only view of both layers shows the merged result.
            let (goneExists, keep) = try await snapshotter.withReadOnlyView(of: [second, first]) { root throws in
                (
                    FileManager.default.fileExists(atPath: root + "/etc/gone"),
                    try FileManager.default.contentsOfDirectory(atPath: root + "/etc/keep")
                )
            }
            #expect(!goneExists)
            #expect(keep == ["new"])
        }
    }

    @Test func identicalLayersAreStoredOnce() async throws {
        try await withSnapshotter { snapshotter, store in
            var records: [SnapshotRecord] = []
            for _ in 0..<2 {
                let active = try await snapshotter.prepare(parent: nil)
                try snapshotter.mount(active, lowers: [])
                try write("same", active.rootPath + "/file")
                _ = utimes(active.rootPath + "/file", [timeval(tv_sec: 1, tv_usec: 0), timeval(tv_sec: 1, tv_usec: 0)])
                try snapshotter.unmount(active)
                records.append(try await snapshotter.commit(active))
            }
            #expect(records[0] == records[1])
            #expect(!FileManager.default.fileExists(atPath: store.snapshotsDirectory + "/2"))
        }
    }

    @Test func discardRemovesEverything() async throws {
        try await withSnapshotter { snapshotter, store in
            let active = try await snapshotter.prepare(parent: nil)
            try snapshotter.mount(active, lowers: [])
            try write("x", active.rootPath + "/x")
            try await snapshotter.discard(active)
            #expect(!FileManager.default.fileExists(atPath: active.directory))
            #expect(try await store.activeSnapshots().isEmpty)
        }
    }

    static func list(_ tar: String) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            "-c", "import tarfile,sys; print('\\n'.join(m.name for m in tarfile.open(sys.argv[1])))", tar,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
