import ContainerRuntime
import Foundation
import ImageStore

#if canImport(Glibc)
    import Glibc
#endif

/// Copies selected sources into a mounted root as COPY does: modes and mtimes kept, owner set
/// to the `--chown` ids (root by default), symlinks copied as symlinks and never followed.
struct FileCopier {
    var uid: uid_t
    var gid: gid_t
    /// `--chmod` bits, applied to files and directories copied.
    var chmod: mode_t?
    var sourceRoot: SourceRoot
    /// Links unchanged files from the previous run of the same COPY (see ``CopyLinker``).
    var linker: CopyLinker?
    /// While files are placed on several threads: set when one of them failed or saw the build
    /// cancelled (only the thread that runs the build's task sees that), so the others stop too.
    var abort: FirstFailure? = nil
    /// The directories this copier links between (each thread placing files has its own).
    var linkDirectories = CopyLinker.Directories()

    /// Copies `entry` (and, for a directory, what is under it) to `destination`, a host path
    /// already resolved inside the target root. A directory source's children land directly in
    /// `destination`, which takes the directory's mode.
    ///
    /// `upperEquivalent`: for a directory `destination` in a mounted overlay that was missing or
    /// empty, the same directory in the upper directory. Once the directory itself is made (or
    /// copied up) through the overlay, its contents are written there directly: nothing below
    /// can show through an empty directory, so the upper directory ends up as the overlay would
    /// have written it, without overlay's cost per file, and unchanged files can be hard-linked
    /// (a link cannot cross from the overlay to another snapshot). The caller unmounts without
    /// looking inside through the overlay again.
    ///
    /// Directories, links and nodes are made as the walk meets them; regular files (most of the
    /// work) in batches of consecutive files (mostly of one directory) on helper threads while the
    /// walk goes on, and on the walk's thread too once it is over.
    func copy(_ source: SelectedSource, to destination: String, upperEquivalent: String? = nil) throws {
        var directories: [(target: String, status: stat)] = []
        var batch: [(entry: WalkEntry, target: String)] = []
        var base = destination
        let failure = FirstFailure()
        let placer = {
            var copier = self
            copier.abort = failure
            return copier
        }()
        // Files are placed while the walk goes on: full batches go to a helper thread, and the
        // walk's own thread takes the ones left when it is done.
        let batches = FileBatches()
        defer { batches.finish(placer) }
        do {
            try FileWalk.walk(
                hostPath: source.hostPath, contextPath: source.contextPath, include: sourceRoot.decision(for: source)
            ) { entry, _ in
                let target = entry.relativePath.isEmpty ? destination : base + "/" + entry.relativePath
                try Task.checkCancellation()
                if let error = failure.error { throw error }
                if entry.isRegular && !entry.relativePath.isEmpty {
                    batch.append((entry, target))
                    if batch.count == FileBatches.size {
                        batches.submit(batch, placer: placer)
                        batch.removeAll(keepingCapacity: true)
                    }
                    return
                }
                try copyEntry(entry, to: target)
                if entry.relativePath.isEmpty, entry.isDirectory, let upperEquivalent, Self.isDirectory(upperEquivalent)
                {
                    base = upperEquivalent
                    directories.append((upperEquivalent, entry.status))
                } else if entry.isDirectory {
                    directories.append((target, entry.status))
                }
            }
        } catch {
            failure.record(error)  // the helpers stop too
            throw error
        }
        if !batch.isEmpty { batches.submit(batch, placer: placer, start: false) }
        batches.finish(placer)
        try Task.checkCancellation()
        if let error = failure.error { throw error }
        // Directory mtimes change as children are added: set them once everything is in place.
        for (target, status) in directories {
            setTimes(target, status, followLinks: true)
        }
    }

    /// Regular files waiting to be copied (or linked) into directories that already exist, in
    /// batches that helper threads (one fewer than the cores, up to three) and, once the walk is
    /// over, the walk's thread take in turn. A failure or a cancellation seen by any of them
    /// stops all (``FirstFailure``).
    private final class FileBatches: @unchecked Sendable {  // the condition guards every field
        static let size = 512
        private static let helpers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 4) - 1)
        private let condition = NSCondition()
        private var queue: [[(entry: WalkEntry, target: String)]] = []
        private var started = 0
        private var running = 0
        private var closed = false

        /// Queues `batch`, starting another helper while there are fewer than ``helpers`` and
        /// more batches than helpers (unless `start` is false: the last, partial batch).
        func submit(_ batch: [(entry: WalkEntry, target: String)], placer: FileCopier, start: Bool = true) {
            let startHelper = condition.withLock { () -> Bool in
                queue.append(batch)
                condition.signal()
                guard start, started < Self.helpers, queue.count > running else { return false }
                started += 1
                running += 1
                return true
            }
            if startHelper {
                let thread = Thread { [self] in
                    place(placer)
                    condition.withLock {
                        running -= 1
                        condition.broadcast()
                    }
                }
                thread.name = "copy-files"
                thread.start()
            }
        }

        /// Takes the remaining batches on this thread and waits for the helpers to end. Calling
        /// it again does nothing more.
        func finish(_ placer: FileCopier) {
            condition.withLock {
                closed = true
                condition.broadcast()
            }
            place(placer)
            condition.withLock {
                while running > 0 { condition.wait() }
            }
        }

        /// Places batches until the queue is empty and closed (or a failure stops the copy).
        private func place(_ placer: FileCopier) {
            var mine = placer
            mine.linkDirectories = CopyLinker.Directories()
            while true {
                let next = condition.withLock { () -> [(entry: WalkEntry, target: String)]? in
                    while queue.isEmpty && !closed { condition.wait() }
                    return queue.isEmpty ? nil : queue.removeFirst()
                }
                guard let batch = next else { return }
                for file in batch {
                    if mine.abort?.happened ?? false { break }
                    do {
                        try mine.checkStop()
                        try mine.copyEntry(file.entry, to: file.target)
                    } catch {
                        mine.abort?.record(error)
                    }
                }
            }
        }
    }

    /// Writes `bytes` as a regular file (heredoc sources).
    func write(_ bytes: [UInt8], to destination: String, mode: mode_t) throws {
        try removeIfNotDirectory(destination)
        let fd = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw failure("create", destination) }
        defer { close(fd) }
        guard FileSystem.writeAll(fd, bytes) else { throw failure("write", destination) }
        fchown(fd, uid, gid)
        fchmod(fd, chmod ?? mode)
    }

    /// Copies a downloaded file (ADD of a URL) to `destination` with `mode` (or `--chmod`) and,
    /// when the server gave one, its Last-Modified time.
    func copyDownloaded(_ path: String, to destination: String, mode: mode_t, mtime: timespec?) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else { throw failure("stat", path) }
        if let mtime {
            status.st_mtim = mtime
            status.st_atim = mtime
        } else {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            status.st_mtim = now
            status.st_atim = now
        }
        try copyFile(path, to: destination, permissions: chmod ?? mode, status: status)
    }

    private func copyEntry(_ entry: WalkEntry, to target: String) throws {
        let mode = entry.status.st_mode
        let permissions = chmod ?? (mode & 0o7777)
        switch mode & S_IFMT {
        case S_IFDIR:
            var st = stat()
            if lstat(target, &st) == 0 {
                if (st.st_mode & S_IFMT) != S_IFDIR {
                    try removeIfNotDirectory(target)
                    guard mkdir(target, permissions) == 0 else { throw failure("create directory", target) }
                }
            } else if mkdir(target, permissions) != 0 {
                throw failure("create directory", target)
            }
            guard lchown(target, uid, gid) == 0 else { throw failure("chown", target) }
            guard Glibc.chmod(target, permissions) == 0 else { throw failure("chmod", target) }
        case S_IFREG:
            try copyFile(entry.hostPath, to: target, permissions: permissions, status: entry.status)
        case S_IFLNK:
            let link = try ContentHash.readLink(entry.hostPath)
            try removeIfNotDirectory(target)
            guard symlink(link, target) == 0 else { throw failure("create symlink", target) }
            guard lchown(target, uid, gid) == 0 else { throw failure("chown", target) }
            setTimes(target, entry.status, followLinks: false)
        case S_IFIFO, S_IFCHR, S_IFBLK:
            try removeIfNotDirectory(target)
            guard mknod(target, mode, entry.status.st_rdev) == 0 else { throw failure("create node", target) }
            guard lchown(target, uid, gid) == 0 else { throw failure("chown", target) }
            setTimes(target, entry.status, followLinks: false)
        default:
            return  // sockets are not copied, as in BuildKit
        }
    }

    private func copyFile(_ source: String, to target: String, permissions: mode_t, status: stat) throws {
        if let linker,
            linker.link(
                source: status, to: target, uid: uid, gid: gid, permissions: permissions, directories: linkDirectories)
        {
            return
        }
        let input = open(source, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard input >= 0 else { throw failure("open", source) }
        defer { close(input) }
        // Most targets are new: create exclusively, and only when something is in the way look
        // at what it is (a directory is an error; a file or link is replaced).
        var output = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if output < 0 && errno == EEXIST {
            try removeIfNotDirectory(target)
            output = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        }
        guard output >= 0 else { throw failure("create", target) }
        defer { close(output) }
        var remaining = Int(status.st_size)
        while remaining > 0 {
            // In 64 MiB pieces, so an interrupted build stops within one.
            try checkStop()
            let n = sendfile(output, input, nil, min(remaining, 64 << 20))
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EXDEV || errno == ENOSYS || errno == EINVAL {
                    try copyByReading(input, output, target)
                    break
                }
                throw failure("copy", target)
            }
            if n == 0 { break }
            remaining -= n
        }
        guard fchown(output, uid, gid) == 0 else { throw failure("chown", target) }
        guard fchmod(output, permissions) == 0 else { throw failure("chmod", target) }
        var times = [status.st_atim, status.st_mtim]
        futimens(output, &times)
        linker?.copied(source: status, input: input, to: target, uid: uid, gid: gid, permissions: permissions)
    }

    private func copyByReading(_ input: Int32, _ output: Int32, _ target: String) throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            try Task.checkCancellation()
            let n = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("read", target)
            }
            if n == 0 { return }
            var offset = 0
            while offset < n {
                let w = buffer[offset..<n].withUnsafeBytes { Glibc.write(output, $0.baseAddress, $0.count) }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw failure("write", target)
                }
                offset += w
            }
        }
    }

    private func removeIfNotDirectory(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw BuildError("cannot copy over directory \(path) with a non-directory")
        }
        guard unlink(path) == 0 else { throw failure("replace", path) }
    }

    /// Throws when the build was cancelled or, while files are placed in parallel, another
    /// thread failed.
    private func checkStop() throws {
        if Task.isCancelled {
            abort?.record(CancellationError())
            throw CancellationError()
        }
        if let abort, abort.happened { throw CancellationError() }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    private func setTimes(_ path: String, _ status: stat, followLinks: Bool) {
        var times = [status.st_atim, status.st_mtim]
        utimensat(AT_FDCWD, path, &times, followLinks ? 0 : AT_SYMLINK_NOFOLLOW)
    }

    private func failure(_ operation: String, _ path: String) -> BuildError {
        BuildError("\(operation) \(path): \(String(cString: strerror(errno)))")
    }
}

/// Creates missing directories along `path` (a host path under `root`), as BuildKit does for
/// COPY destinations: mode 0755, owned by `uid:gid`.
func makeParents(_ path: String, under root: String, uid: uid_t, gid: gid_t) throws {
    guard let below = path.relativePath(under: root) else { return }
    let relative = below.slashComponents()
    var current = root
    for component in relative {
        current += "/" + component
        var st = stat()
        if lstat(current, &st) == 0 {
            if (st.st_mode & S_IFMT) != S_IFDIR {
                throw BuildError("cannot create directory \(current): a file is in the way")
            }
            continue
        }
        guard mkdir(current, 0o755) == 0 || errno == EEXIST else {
            throw BuildError("create directory \(current): \(String(cString: strerror(errno)))")
        }
        lchown(current, uid, gid)
    }
}

/// The first error of several threads.
final class FirstFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var first: (any Error)?

    var happened: Bool { lock.withLock { first != nil } }
    var error: (any Error)? { lock.withLock { first } }
    func record(_ error: any Error) { lock.withLock { if first == nil { first = error } } }
}
