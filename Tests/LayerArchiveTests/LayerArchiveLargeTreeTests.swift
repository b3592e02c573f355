import Foundation
import OCIImage
import Testing

@testable import LayerArchive

/// Trees big enough that the writer hands chunks to its hashing thread, or deeper than it keeps
/// directories open: the bytes, the digest and the errors must be those of the simple path.
@Suite(.serialized) struct LayerArchiveLargeTreeTests {
    /// Files adding up to several of the sink's chunks, with sizes that do not divide them.
    func makeLargeTree(_ root: String) throws {
        var generator = SystemRandomNumberGenerator()
        let block = Data((0..<65_536).map { _ in UInt8.random(in: 0...255, using: &generator) })
        for directory in 0..<3 {
            let path = root + "/d\(directory)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            for file in 0..<40 {
                let size = file % 10 == 0 ? ArchiveSink.chunkSize + 12_345 : 1_000 + file * 97
                var bytes = Data(capacity: size)
                while bytes.count < size {
                    let start = (directory * 40 + file + bytes.count) % 4_096
                    bytes.append(block[start..<min(block.count, start + size - bytes.count)])
                }
                try bytes.write(to: URL(fileURLWithPath: path + "/f\(file)"))
            }
        }
    }

    @Test func aMultiChunkLayerHasTheDigestAndSizeOfItsBytes() throws {
        let scratch = try LayerArchiveTests.Scratch()
        let source = scratch.base + "/source"
        try makeLargeTree(source)
        let tarPath = scratch.base + "/layer.tar"
        let written = try LayerArchive.writeTree(directory: source, to: tarPath)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: tarPath))
        #expect(bytes.count > 4 * ArchiveSink.chunkSize)
        #expect(written.size == Int64(bytes.count))
        #expect(written.diffID == Digest.sha256(of: bytes))
        // Hashed only (how a build commits) gives the same digest, and so does a second write.
        #expect(try LayerArchive.writeTree(directory: source, to: "/dev/null") == written)
        #expect(try LayerArchive.writeTree(directory: source, to: scratch.base + "/again.tar") == written)
        let target = scratch.base + "/target"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        #expect(try LayerArchive.unpack(layerAt: tarPath, into: target, mode: .apply).diffID == written.diffID)
        #expect(
            FileManager.default.contents(atPath: target + "/d2/f30")
                == FileManager.default.contents(atPath: source + "/d2/f30"))
    }

    @Test func evictedFilesAreReadAheadAndGiveTheSameBytes() throws {
        let scratch = try LayerArchiveTests.Scratch()
        let source = scratch.base + "/source"
        try makeLargeTree(source)
        let warm = try LayerArchive.writeTree(directory: source, to: scratch.base + "/warm.tar")
        // Written out and dropped from the page cache: the writer's reads find nothing cached
        // and, after a quarter of 64 files missed, it starts reading ahead for the rest of the tree.
        sync()
        for directory in 0..<3 {
            for file in 0..<40 {
                let fd = open(source + "/d\(directory)/f\(file)", O_RDONLY)
                #expect(fd >= 0)
                #expect(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0)
                close(fd)
            }
        }
        let tarPath = scratch.base + "/cold.tar"
        let cold = try LayerArchive.writeTree(directory: source, to: tarPath)
        #expect(cold == warm)
        #expect(cold.diffID == Digest.sha256(of: try Data(contentsOf: URL(fileURLWithPath: tarPath))))
    }

    @Test func readAheadStartsOnlyWhenManyRecentFilesMissed() {
        // A page evicted here and there: one miss in ten files never adds up to a quarter.
        var sparse = CacheMisses()
        var started = 0
        for file in 0..<5_000 where sparse.record(missed: file % 10 == 0) { started += 1 }
        #expect(started == 0)
        // A tree evicted whole: the sixteenth miss in a row starts it.
        var cold = CacheMisses()
        for _ in 0..<15 where cold.record(missed: true) { started += 1 }
        #expect(started == 0)
        let sixteenth = cold.record(missed: true)
        #expect(sixteenth)
        // Misses older than the last 64 files no longer count.
        var old = CacheMisses()
        for _ in 0..<15 { _ = old.record(missed: true) }
        for _ in 0..<64 { _ = old.record(missed: false) }
        let afterOldMisses = old.record(missed: true)
        #expect(!afterOldMisses)
    }

    @Test func aFailedWriteIsAnErrorNamingTheCause() throws {
        let scratch = try LayerArchiveTests.Scratch()
        let source = scratch.base + "/source"
        try makeLargeTree(source)
        // /dev/full refuses every write with ENOSPC: the hashing thread sees it, the producer
        // stops, and the error says why (the thread is joined, or this test would hang).
        #expect {
            try LayerArchive.writeTree(directory: source, to: "/dev/full")
        } throws: { error in
            "\(error)".contains(String(cString: strerror(ENOSPC)))
        }
    }

    @Test func aTreeDeeperThanTheOpenDirectoriesIsWrittenWhole() throws {
        let scratch = try LayerArchiveTests.Scratch()
        let source = scratch.base + "/source"
        let depth = 300
        let deepest = source + String(repeating: "/d", count: depth)
        try FileManager.default.createDirectory(atPath: deepest, withIntermediateDirectories: true)
        try "bottom\n".write(toFile: deepest + "/file", atomically: false, encoding: .utf8)
        try "top\n".write(toFile: source + "/d/file", atomically: false, encoding: .utf8)
        let tarPath = scratch.base + "/deep.tar"
        let written = try LayerArchive.writeTree(directory: source, to: tarPath)
        let target = scratch.base + "/target"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        #expect(try LayerArchive.unpack(layerAt: tarPath, into: target, mode: .apply).diffID == written.diffID)
        let copied = target + String(repeating: "/d", count: depth) + "/file"
        #expect(FileManager.default.contents(atPath: copied) == Data("bottom\n".utf8))
        #expect(FileManager.default.contents(atPath: target + "/d/file") == Data("top\n".utf8))
    }
}
