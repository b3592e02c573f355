import Foundation
import Testing

@testable import ImageStore

#if canImport(Glibc)
    import Glibc
#endif

@Suite(.serialized) struct TemporaryPathsTests {
    /// An interrupted command retires its scratch directory: what was written there is gone, and a
    /// path handed out before cannot be created afterwards (a thread still downloading into it
    /// fails instead of leaving its file behind).
    @Test func retiredScratchTakesEveryPathAway() async throws {
        try await withTemporaryStore { store, root in
            let scratch = store.temporaryPath("process")
            #expect(mkdir(scratch, 0o700) == 0)
            TemporaryPaths.useScratch(scratch, in: store.temporaryDirectory)
            let written = store.temporaryPath("pull-layer")
            let later = store.temporaryPath("pull-config")
            #expect(written.hasPrefix(scratch + "/") && later.hasPrefix(scratch + "/"))
            #expect(TemporaryPaths.all.contains(written))
            try FileSystem.writeAtomically(Array("partial".utf8), to: written, temporary: written + ".part")
            #expect(try FileSystem.listDirectory(root + "/tmp") == [URL(fileURLWithPath: scratch).lastPathComponent])

            #expect(TemporaryPaths.retireScratch())
            #expect(try FileSystem.listDirectory(root + "/tmp").isEmpty)
            #expect(open(later, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) == -1 && errno == ENOENT)
            #expect(try FileSystem.listDirectory(root + "/tmp").isEmpty)
        }
    }

    /// Another store's temporary paths are not moved into this scratch directory.
    @Test func scratchBelongsToOneStore() async throws {
        try await withTemporaryStore { store, _ in
            try await withTemporaryStore { other, _ in
                let scratch = store.temporaryPath("process")
                #expect(mkdir(scratch, 0o700) == 0)
                TemporaryPaths.useScratch(scratch, in: store.temporaryDirectory)
                #expect(other.temporaryPath("x").hasPrefix(other.temporaryDirectory + "/x-"))
                #expect(store.temporaryPath("x").hasPrefix(scratch + "/x-"))
            }
        }
    }
}
