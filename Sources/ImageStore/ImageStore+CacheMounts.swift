import Foundation
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// A persistent `RUN --mount=type=cache` directory, as `system df` and prune see it.
public struct CacheMountRecord: Sendable, Equatable {
    /// The directory's name under `cachemounts/`: the hex digest of its id and scope.
    public var name: String
    /// The mount's `id` (the target path by default).
    public var id: String
    public var size: Int64
    public var lastUsed: Date
}

/// How a build step holds a cache directory: the lock is released by ``release()``.
public final class CacheMountLease: @unchecked Sendable {
    /// The directory to bind into the container.
    public let path: String
    private var lockFD: Int32
    private let disposable: Bool

    init(path: String, lockFD: Int32, disposable: Bool) {
        self.path = path
        self.lockFD = lockFD
        self.disposable = disposable
    }

    /// Drops the lock; a private directory made because the shared one was busy is removed.
    public func release() {
        if lockFD >= 0 {
            close(lockFD)
            lockFD = -1
        }
        if disposable { try? FileSystem.removeTree(path) }
    }

    deinit { release() }
}

/// The sharing mode of a cache mount (BuildKit's `sharing=`).
public enum CacheMountSharing: String, Sendable {
    case shared, `private`, locked
}

extension ImageStore {
    /// Directory of the persistent cache mounts: `cachemounts/<hex>/{data,lock,id}`.
    public nonisolated var cacheMountsDirectory: String { root + "/cachemounts" }

    /// Opens the cache directory for `id` within `scope` (empty, or what a `from=` seeds it
    /// with), creating it with `uid`, `gid` and `mode` and filling it with `seed` the first
    /// time. `shared` users use it at once, `locked` users wait for each other, and a `private`
    /// user that finds it in use gets a fresh directory that is removed on release.
    public nonisolated func openCacheMount(
        id: String, scope: String, sharing: CacheMountSharing, uid: UInt32, gid: UInt32, mode: UInt32,
        seed: (String) throws -> Void
    ) async throws -> CacheMountLease {
        let name = Digest.sha256(of: Array((id + "\u{0}" + scope).utf8)).encoded
        let directory = cacheMountsDirectory + "/" + name
        try FileSystem.makeDirectory(directory, mode: 0o700)
        let lockPath = directory + "/lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError.io(path: lockPath, operation: "open", errno: errno) }
        var fresh = false
        switch sharing {
        case .shared:
            try await Self.lock(fd, LOCK_SH, path: lockPath)
        case .locked:
            try await Self.lock(fd, LOCK_EX, path: lockPath)
        case .private:
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                guard errno == EWOULDBLOCK else {
                    close(fd)
                    throw StoreError.io(path: lockPath, operation: "lock", errno: errno)
                }
                fresh = true
            }
        }
        futimens(fd, nil)  // last use, for --keep-storage
        let data = directory + "/data"
        do {
            if fresh {
                close(fd)
                let path = temporaryPath("cache-private")
                try Self.createCacheDirectory(path, uid: uid, gid: gid, mode: mode, seed: seed)
                return CacheMountLease(path: path, lockFD: -1, disposable: true)
            }
            if !FileSystem.exists(data) {
                // Filled aside and renamed into place, so a concurrent first use sees all or nothing.
                let staging = temporaryPath("cache-new")
                try Self.createCacheDirectory(staging, uid: uid, gid: gid, mode: mode, seed: seed)
                if rename(staging, data) != 0 { try? FileSystem.removeTree(staging) }
                try FileSystem.writeAtomically(Array(id.utf8), to: directory + "/id", temporary: temporaryPath("id"))
            }
        } catch {
            close(fd)
            throw error
        }
        return CacheMountLease(path: data, lockFD: fd, disposable: false)
    }

    private static func createCacheDirectory(
        _ path: String, uid: UInt32, gid: UInt32, mode: UInt32, seed: (String) throws -> Void
    ) throws {
        try FileSystem.makeDirectory(path)
        try seed(path)
        guard chown(path, uid, gid) == 0, chmod(path, mode_t(mode)) == 0 else {
            throw StoreError.io(path: path, operation: "set owner and mode", errno: errno)
        }
    }

    /// Takes a blocking flock without blocking a cooperative thread: polls every 50 ms.
    private static func lock(_ fd: Int32, _ operation: Int32, path: String) async throws {
        while flock(fd, operation | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                close(fd)
                throw StoreError.io(path: path, operation: "lock", errno: errno)
            }
            do { try await Task.sleep(nanoseconds: 50_000_000) } catch {
                close(fd)
                throw error
            }
        }
    }

    /// Every persistent cache mount, most recently used first.
    public nonisolated func cacheMounts() throws(StoreError) -> [CacheMountRecord] {
        guard FileSystem.exists(cacheMountsDirectory) else { return [] }
        var records: [CacheMountRecord] = []
        for name in try FileSystem.listDirectory(cacheMountsDirectory) {
            let directory = cacheMountsDirectory + "/" + name
            let id = (try? FileSystem.read(directory + "/id")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            var st = stat()
            let used =
                stat(directory + "/lock", &st) == 0
                ? Date(timeIntervalSince1970: TimeInterval(st.st_mtim.tv_sec)) : Date(timeIntervalSince1970: 0)
            records.append(
                CacheMountRecord(name: name, id: id, size: FileSystem.diskUsage(directory), lastUsed: used))
        }
        return records.sorted { $0.lastUsed > $1.lastUsed }
    }

    /// Removes cache mounts, least recently used first, until the rest fit in `keep` bytes (all
    /// without a limit). Called with exclusive access to the store, so none is in use.
    nonisolated func evictCacheMounts(keeping keep: Int64?, into report: inout PruneReport) throws(StoreError) {
        var kept: Int64 = 0
        for record in try cacheMounts() {
            if let keep, kept + record.size <= keep {
                kept += record.size
                continue
            }
            try FileSystem.removeTree(cacheMountsDirectory + "/" + record.name)
            report.reclaimedBytes += record.size
            report.deletedCacheRecords.append(record.name)
        }
    }
}
