import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads ahead of the layer writer once it meets files that are no longer in the page cache.
///
/// The writer reads a tree's files one after the other; when they were evicted (a snapshot not
/// read for a while, memory reclaimed), every small file is one disk round trip, waited for in
/// turn: 2,000 evicted 11 KB files cost half a second. Told which directories come next, this
/// thread asks the kernel to read their regular files in (`POSIX_FADV_WILLNEED` starts the I/O
/// without waiting for it), so many reads are in flight at once and the writer mostly finds its
/// data cached. It starts only once many reads found data missing (see ``CacheMisses``), so a
/// tree in memory, or one with a page evicted here and there, costs nothing.
final class TreeReadahead: @unchecked Sendable {  // the condition guards the queue and the flag
    private let condition = NSCondition()
    /// Directories to read ahead, each as a duplicated descriptor and the names in it.
    private var queue: [(directory: Int32, names: [[UInt8]])] = []
    private var stopping = false
    private let ended = DispatchSemaphore(value: 0)

    init() {
        let thread = Thread { [self] in
            run()
            ended.signal()
        }
        thread.name = "layer-readahead"
        thread.start()
    }

    /// Queues `names` in the directory open at `directory` (which stays the caller's).
    func follow(directory: Int32, names: some Collection<[UInt8]>) {
        guard !names.isEmpty else { return }
        let copy = fcntl(directory, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { return }
        condition.withLock {
            queue.append((copy, Array(names)))
            condition.signal()
        }
    }

    /// Stops after the entry in progress and waits for the thread to end.
    func stop() {
        condition.withLock {
            stopping = true
            condition.signal()
        }
        ended.wait()
        for item in queue { close(item.directory) }
        queue.removeAll()
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                return
            }
            let (directory, names) = queue.removeFirst()
            condition.unlock()
            defer { close(directory) }
            for name in names {
                if condition.withLock({ stopping }) { return }
                Self.readAhead(name, in: directory)
            }
        }
    }

    /// Starts reading the regular file `name` in `directory` in; anything else is left alone
    /// (opening a device node can have effects).
    private static func readAhead(_ name: [UInt8], in directory: Int32) {
        let cName = PathBytes.cString(name)
        var st = stat()
        guard fstatat(directory, cName, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) == S_IFREG,
            st.st_size > 0
        else { return }
        let fd = openat(directory, cName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED)
    }
}

/// Which of the layer writer's last 64 files missed the page cache.
///
/// Reading ahead costs five system calls per file; a miss costs one disk read waited for. Pages
/// evicted here and there (memory reclaim picks pages, not files) make a miss rare, and reading
/// the whole tree ahead for them costs more than it saves; a tree evicted whole misses at every
/// file. Read-ahead pays off when a quarter of the recent files missed.
struct CacheMisses: Sendable, Equatable {
    static let threshold = 16
    private var recent: UInt64 = 0

    /// Records whether the next file missed; true when reading ahead pays off.
    mutating func record(missed: Bool) -> Bool {
        recent = recent << 1 | (missed ? 1 : 0)
        return recent.nonzeroBitCount >= Self.threshold
    }
}
