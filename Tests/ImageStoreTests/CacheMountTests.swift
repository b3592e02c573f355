import Foundation
import Testing

@testable import ImageStore

#if canImport(Glibc)
    import Glibc
#endif

/// `RUN --mount=type=cache` directories: creation, persistence and the sharing modes.
@Suite struct CacheMountTests {
    @Test func createdOnceWithOwnerAndModeThenReused() async throws {
        try await withTemporaryStore { store, _ in
            let first = try await store.openCacheMount(
                id: "/root/.cache", scope: "", sharing: .shared, uid: 7, gid: 8, mode: 0o750
            ) { dir in try Data("seed".utf8).write(to: URL(fileURLWithPath: dir + "/seeded")) }
            var st = stat()
            #expect(stat(first.path, &st) == 0)
            #expect(st.st_uid == 7 && st.st_gid == 8 && st.st_mode & 0o7777 == 0o750)
            try Data("kept".utf8).write(to: URL(fileURLWithPath: first.path + "/file"))
            first.release()
            var seededAgain = false
            let second = try await store.openCacheMount(
                id: "/root/.cache", scope: "", sharing: .shared, uid: 0, gid: 0, mode: 0o755
            ) { _ in seededAgain = true }
            #expect(second.path == first.path)
            #expect(!seededAgain)
            #expect(FileManager.default.fileExists(atPath: second.path + "/file"))
            #expect(FileManager.default.fileExists(atPath: second.path + "/seeded"))
            second.release()
            let records = try store.cacheMounts()
            #expect(records.count == 1 && records.first?.id == "/root/.cache")
            // Another scope (another from= seed) is another cache.
            let other = try await store.openCacheMount(
                id: "/root/.cache", scope: "stage:x", sharing: .shared, uid: 0, gid: 0, mode: 0o755
            ) { _ in }
            #expect(other.path != first.path)
            other.release()
            var report = PruneReport()
            try store.evictCacheMounts(keeping: nil, into: &report)
            #expect(try store.cacheMounts().isEmpty)
            #expect(report.deletedCacheRecords.count == 2)
        }
    }

    @Test func privateGetsAFreshDirectoryAndLockedWaits() async throws {
        try await withTemporaryStore { store, _ in
            let held = try await store.openCacheMount(
                id: "c", scope: "", sharing: .locked, uid: 0, gid: 0, mode: 0o755
            ) { _ in }
            try Data("x".utf8).write(to: URL(fileURLWithPath: held.path + "/x"))
            // In use: a private user gets an empty directory of its own, removed on release.
            let fresh = try await store.openCacheMount(
                id: "c", scope: "", sharing: .private, uid: 0, gid: 0, mode: 0o755
            ) { _ in }
            #expect(fresh.path != held.path)
            #expect(try FileManager.default.contentsOfDirectory(atPath: fresh.path).isEmpty)
            fresh.release()
            #expect(!FileManager.default.fileExists(atPath: fresh.path))
            // A locked user waits until the holder releases.
            let waiter = Task {
                let lease = try await store.openCacheMount(
                    id: "c", scope: "", sharing: .locked, uid: 0, gid: 0, mode: 0o755
                ) { _ in }
                defer { lease.release() }
                return Date()
            }
            try await Task.sleep(nanoseconds: 300_000_000)
            let released = Date()
            held.release()
            let acquired = try await waiter.value
            #expect(acquired >= released)
        }
    }
}
