import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The store-wide lock file.
///
/// Every process that opens the store holds a shared `flock` on it for as long as it runs, so
/// that garbage collection and `system check`, which take it exclusively, never run while another
/// berth is writing blobs or snapshots that nothing references yet. The kernel drops the lock
/// when a process dies, so a crashed berth never leaves the store locked.
final class StoreLock: @unchecked Sendable {
    let path: String
    private let fd: Int32

    init(path: String) throws(StoreError) {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io(path: path, operation: "open lock file", errno: errno) }
        guard Self.flockRetrying(fd, LOCK_SH) == 0 else {
            let code = errno
            close(fd)
            throw .io(path: path, operation: "take shared lock on", errno: code)
        }
    }

    deinit { close(fd) }

    /// Converts this process's shared lock into an exclusive one, waiting for every other berth
    /// process using the store to finish. `onWait` runs once if the lock is not free at once.
    func lockExclusively(onWait: () -> Void) throws(StoreError) {
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return }
        guard errno == EWOULDBLOCK else { throw .io(path: path, operation: "take exclusive lock on", errno: errno) }
        onWait()
        guard Self.flockRetrying(fd, LOCK_EX) == 0 else {
            throw .io(path: path, operation: "take exclusive lock on", errno: errno)
        }
    }

    /// Gives the lock up: this process no longer holds anything the store does not record
    /// (a running container is protected by its record).
    func unlock() {
        _ = flock(fd, LOCK_UN)
    }

    /// Returns to a shared lock.
    func lockShared() throws(StoreError) {
        guard Self.flockRetrying(fd, LOCK_SH) == 0 else {
            throw .io(path: path, operation: "take shared lock on", errno: errno)
        }
    }

    private static func flockRetrying(_ fd: Int32, _ operation: Int32) -> Int32 {
        while true {
            let rc = flock(fd, operation)
            if rc == 0 || errno != EINTR { return rc }
        }
    }
}

extension ImageStore {
    /// Stops holding the store's shared lock, for processes that live long with nothing but
    /// recorded state (a running container, a container monitor): garbage collection need not
    /// wait for them.
    public func releaseUseLock() {
        lock.unlock()
    }

    /// Runs `body` while holding the store exclusively: no other berth process is using it.
    /// `onWait` is called (once) when other processes hold the store and berth has to wait.
    public func withExclusiveAccess<T: Sendable>(
        onWait: @Sendable () -> Void, _ body: () throws(StoreError) -> T
    ) throws(StoreError) -> T {
        try lock.lockExclusively(onWait: onWait)
        defer { try? lock.lockShared() }
        return try body()
    }
}
