import Foundation
import ImageStore
import OCIImage
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The content hash of what a COPY selects: for every entry (in sorted walk order) its path
/// relative to the source, type, permission bits, size, link target and bytes. mtimes, inode
/// numbers and owners on the build machine never enter it, so a fresh clone hits the cache.
enum ContentHash {
    /// Stat-cache state for one hashing pass: what the store knew (records per directory, see
    /// ``StatRecords``), and the directories whose records changed.
    final class StatCache {
        let known: [String: [UInt8]]
        var learned: [String: [UInt8]] = [:]
        init(known: [String: [UInt8]]) { self.known = known }
    }

    /// Collects every hashed entry's path and summary for `--explain`, compactly, up to a limit.
    final class EntryList {
        let limit: Int
        private(set) var count = 0
        private var bytes: [UInt8] = []

        init(limit: Int) { self.limit = limit }

        /// True when more entries than the limit were hashed (the list was dropped).
        var overflowed: Bool { count > limit }

        /// Adds `prefix/relative` (`.` when both are empty) with its summary.
        func add(prefix: [UInt8], _ relative: [UInt8], _ summary: [UInt8]) {
            count += 1
            guard count <= limit else {
                if count == limit + 1 { bytes = [] }
                return
            }
            bytes += prefix
            if !prefix.isEmpty && !relative.isEmpty { bytes.append(UInt8(ascii: "/")) }
            bytes += relative
            if prefix.isEmpty && relative.isEmpty { bytes.append(UInt8(ascii: ".")) }
            bytes.append(0)
            bytes.append(contentsOf: summary)
            bytes.append(0)
        }

        /// Path → summary (`f 644 12 <digest>`), or nil past the limit.
        func dictionary() -> [String: String]? {
            guard !overflowed else { return nil }
            var result: [String: String] = [:]
            result.reserveCapacity(count)
            let parts = bytes.split(separator: 0, omittingEmptySubsequences: false)
            var index = 0
            while index + 1 < parts.count {
                result[String(decoding: parts[index], as: UTF8.self)] = String(
                    decoding: parts[index + 1], as: UTF8.self)
                index += 2
            }
            return result
        }
    }

    /// The SHA-256 of every regular file hashed, by the file's identity when it was hashed
    /// (device, inode, size, mtime, ctime): a copy that finds the same identity copies exactly
    /// the bytes that were hashed (any write changes the ctime).
    final class DigestIndex {
        struct FileKey: Hashable {
            var device: UInt64
            var identity: StatRecords.Identity

            init(_ st: stat) {
                device = UInt64(st.st_dev)
                identity = StatRecords.Identity(st)
            }
        }

        // Appended while hashing (most hashes are cache hits that never look anything up); the
        // dictionary is built at the first look-up.
        private var keys: [FileKey] = []
        private var values: [[UInt8]] = []
        private var index: [FileKey: Int]?

        func add(_ st: stat, _ digest: [UInt8]) {
            keys.append(FileKey(st))
            values.append(digest)
        }

        /// Builds the look-up table; after this, ``digest(of:)`` may be called from several threads.
        func buildIndex() {
            guard index == nil else { return }
            var built: [FileKey: Int] = [:]
            built.reserveCapacity(keys.count)
            for (position, key) in keys.enumerated() { built[key] = position }
            index = built
        }

        /// The raw digest of the file `st` describes, if it was hashed as it is now.
        func digest(of st: stat) -> [UInt8]? {
            buildIndex()
            return index?[FileKey(st)].map { values[$0] }
        }
    }

    /// The content hash of `sources`. With a stat cache, a regular file whose size, mtime,
    /// ctime and inode match the cache is not read: its recorded digest is used. `entries`, when
    /// given, receives every entry's path (the source's path joined with the path under it) and
    /// a summary of what was hashed for it (for `--explain`); `digests` every regular file's
    /// digest.
    static func of(
        _ sources: [SelectedSource], in root: SourceRoot, cache: StatCache? = nil, entries: EntryList? = nil,
        digests: DigestIndex? = nil
    ) throws -> String {
        let walker = HashWalker(root: root, cache: cache, entries: entries)
        walker.digests = digests
        for source in sources {
            walker.hasher.update(Array("source \(source.relativePath)\u{0}".utf8))
            try walker.walkSource(source)
        }
        return walker.hasher.finalize().encoded
    }

    static func readLink(_ path: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { throw BuildError("cannot read link \(path): \(String(cString: strerror(errno)))") }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Walks selected sources as ``FileWalk`` does (sorted, depth-first, the same .dockerignore and
/// `--exclude` decisions) but through directory descriptors, with names kept as bytes, and
/// feeds the content hash. One directory's stat-cache records are read and rewritten as it is
/// listed.
private final class HashWalker {
    let root: SourceRoot
    let cache: ContentHash.StatCache?
    let entries: ContentHash.EntryList?
    var digests: ContentHash.DigestIndex?
    var hasher = DigestHasher()
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)
    /// Path of the entry being visited, relative to the source.
    private var relative: [UInt8] = []
    /// The source's own path (prefix of the `--explain` paths and of the filter's paths).
    private var sourcePath: [UInt8] = []
    /// What the filters match against: the source's path, or for a selected symlink its target's.
    private var filterPath: [UInt8] = []
    private var decide: ((String, Bool) -> WalkDecision)?
    private var scratch: [UInt8] = []
    private var summary: [UInt8] = []

    init(root: SourceRoot, cache: ContentHash.StatCache?, entries: ContentHash.EntryList?) {
        self.root = root
        self.cache = cache
        self.entries = entries
        scratch.reserveCapacity(4096)
        summary.reserveCapacity(256)
    }

    func walkSource(_ source: SelectedSource) throws {
        let filtered = !(root.ignore?.isEmpty ?? true) || !(root.excludes?.isEmpty ?? true)
        decide = filtered ? root.decision(for: source) : nil
        sourcePath = Array(source.relativePath.utf8)
        filterPath = Array(source.contextPath.utf8)
        relative = []
        var st = stat()
        guard lstat(source.hostPath, &st) == 0 else {
            throw BuildError("cannot stat \(source.hostPath): \(String(cString: strerror(errno)))")
        }
        let (parent, name) = Self.split(source.hostPath)
        let parentFD = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parentFD >= 0 else {
            throw BuildError("cannot read directory \(parent): \(String(cString: strerror(errno)))")
        }
        defer { close(parentFD) }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            try visit(dirFD: parentFD, name: name, status: st, hostPath: source.hostPath)
            try walkDirectory(parentFD: parentFD, name: name, hostPath: source.hostPath)
            return
        }
        // A file selected by itself: its record is updated within its directory's records.
        let digest = try visit(dirFD: parentFD, name: name, status: st, hostPath: source.hostPath, lookup: parent)
        if let digest, let cache {
            var record: [UInt8] = []
            name.withUnsafeBufferPointer { n in
                digest.withUnsafeBytes { StatRecords.append(name: n, identity: .init(st), digest: $0, to: &record) }
            }
            let old = cache.learned[parent] ?? cache.known[parent] ?? []
            let updated = StatRecords.replacing(name, with: record, in: old)
            if updated != old { cache.learned[parent] = updated }
        }
    }

    /// Lists, filters and walks the children of the directory `name` in `parentFD` (already
    /// being listed and stat'ed by `scan` when the walk started that ahead of time).
    private func walkDirectory(
        parentFD: Int32, name: [UInt8], hostPath: String, excluded: Bool = false, scan: DirectoryScan? = nil
    ) throws {
        let scan = scan ?? DirectoryScan.start(parentFD: parentFD, name: name)
        let (fd, listing, statuses) = scan.take()
        guard fd >= 0 else {
            throw BuildError("cannot read directory \(hostPath): \(String(cString: strerror(scan.openError)))")
        }
        defer { close(fd) }
        // The next child directory the walk will enter, listed and stat'ed on another thread
        // while the walk is inside this one; waited for on the way out if never entered, since
        // it opens relative to `fd`.
        var ahead: (index: Int, scan: DirectoryScan)?
        defer { if let ahead { ahead.scan.abandon() } }
        let known = cache?.learned[hostPath] ?? cache?.known[hostPath]
        var cursor = StatRecords.Cursor(known)
        var records: [UInt8] = []
        records.reserveCapacity(known?.count ?? 0)
        let baseLength = relative.count
        var parentVisited = false
        for index in 0..<listing.count {
            guard let st = statuses[index] else { continue }
            let childName = listing.name(index)
            let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
            let isRegular = (st.st_mode & S_IFMT) == S_IFREG
            if !relative.isEmpty { relative.append(UInt8(ascii: "/")) }
            relative += childName
            defer { relative.removeSubrange(baseLength...) }
            var decision = WalkDecision.include
            if let decide { decision = decide(contextPath(), isDirectory) }
            let oldRecord = isRegular ? childName.withUnsafeBufferPointer { cursor.find($0) } : nil
            if excluded && decision == .include && !parentVisited {
                // A re-included entry inside an excluded directory: the directory is visited first.
                let saved = Array(relative[..<baseLength])
                let child = Array(relative[baseLength...])
                relative = saved
                try visitDirectoryItself(hostPath: hostPath, fd: fd)
                relative += child
                parentVisited = true
            }
            let childHost = { hostPath + "/" + String(decoding: childName, as: UTF8.self) }
            var childScan: DirectoryScan?
            if isDirectory && (decision == .include || decision == .skipEntryOnly) {
                if let current = ahead, current.index == index {
                    childScan = current.scan
                    ahead = nil
                }
                if let next = nextDirectory(after: index, listing, statuses, baseLength: baseLength) {
                    ahead = (next, DirectoryScan.start(parentFD: fd, name: listing.name(next), inBackground: true))
                }
            }
            switch decision {
            case .include:
                if isDirectory {
                    let host = childHost()
                    try visit(dirFD: fd, name: childName, status: st, hostPath: host)
                    try walkDirectory(parentFD: fd, name: childName, hostPath: host, scan: childScan)
                } else {
                    let digest = try visit(
                        dirFD: fd, name: childName, status: st, hostPath: childHost(),
                        known: oldRecord.flatMap { range in known.map { ($0, range) } })
                    if let digest {
                        childName.withUnsafeBufferPointer { n in
                            digest.withUnsafeBytes {
                                StatRecords.append(name: n, identity: .init(st), digest: $0, to: &records)
                            }
                        }
                        continue
                    }
                }
            case .skipEntryOnly where isDirectory:
                try walkDirectory(
                    parentFD: fd, name: childName, hostPath: childHost(), excluded: true, scan: childScan)
            default:
                break
            }
            // Not hashed this time (excluded): its record stays for other selections.
            if let oldRecord, let known { records += known[oldRecord] }
        }
        if let cache, records != (known ?? []) {
            cache.learned[hostPath] = records
        }
    }

    /// The index of the first child after `index` that the walk will enter (a directory not
    /// excluded with everything under it), or nil. `relative` holds the child at `index`;
    /// `baseLength` is the parent's length in it.
    private func nextDirectory(after index: Int, _ listing: Listing, _ statuses: [stat?], baseLength: Int) -> Int? {
        var next = index + 1
        while next < listing.count {
            if let st = statuses[next], (st.st_mode & S_IFMT) == S_IFDIR {
                guard let decide else { return next }
                let saved = relative
                relative.removeSubrange(baseLength...)
                if !relative.isEmpty { relative.append(UInt8(ascii: "/")) }
                relative += listing.name(next)
                let decision = decide(contextPath(), true)
                relative = saved
                return decision == .skipTree ? nil : next
            }
            next += 1
        }
        return nil
    }

    /// Visits an excluded directory that turned out to hold a re-included entry (its stat is
    /// taken again through its own descriptor).
    private func visitDirectoryItself(hostPath: String, fd: Int32) throws {
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw BuildError("cannot stat \(hostPath): \(String(cString: strerror(errno)))")
        }
        try visit(dirFD: fd, name: Array(".".utf8), status: st, hostPath: hostPath)
    }

    /// The path .dockerignore and `--exclude` see: the source's path joined with the entry's.
    private func contextPath() -> String {
        if filterPath.isEmpty { return String(decoding: relative, as: UTF8.self) }
        if relative.isEmpty { return String(decoding: filterPath, as: UTF8.self) }
        return String(decoding: filterPath + [UInt8(ascii: "/")] + relative, as: UTF8.self)
    }

    /// Hashes one entry; returns a regular file's raw SHA-256. `known` is the file's stat-cache
    /// record, `lookup` a directory whose records to search for it (a file selected by itself).
    @discardableResult
    private func visit(
        dirFD: Int32, name: [UInt8], status st: stat, hostPath: @autoclosure () -> String,
        known: ([UInt8], Range<Int>)? = nil, lookup: String? = nil
    ) throws -> [UInt8]? {
        let mode = st.st_mode
        let type: UInt8
        scratch.removeAll(keepingCapacity: true)
        scratch += relative
        scratch.append(0)
        var extraStart = 0
        var digest: [UInt8]?
        switch mode & S_IFMT {
        case S_IFDIR: type = UInt8(ascii: "d")
        case S_IFREG: type = UInt8(ascii: "f")
        case S_IFLNK: type = UInt8(ascii: "l")
        case S_IFIFO: type = UInt8(ascii: "p")
        case S_IFCHR: type = UInt8(ascii: "c")
        case S_IFBLK: type = UInt8(ascii: "b")
        default: type = UInt8(ascii: "?")
        }
        scratch.append(type)
        scratch.append(0)
        Self.appendOctal(UInt32(mode & 0o7777), to: &scratch)
        scratch.append(0)
        extraStart = scratch.count
        switch mode & S_IFMT {
        case S_IFREG:
            Self.appendDecimal(UInt64(st.st_size), to: &scratch)
        case S_IFLNK:
            scratch += Self.readLink(dirFD, name)
        case S_IFCHR, S_IFBLK:
            Self.appendDecimal(UInt64(st.st_rdev), to: &scratch)
        default: break
        }
        let extraEnd = scratch.count
        scratch.append(0)
        if type == UInt8(ascii: "f") {
            let raw = try fileDigest(
                dirFD: dirFD, name: name, status: st, hostPath: hostPath(), known: known, lookup: lookup)
            digest = raw
            digests?.add(st, raw)
            Self.appendHex(raw, to: &scratch)
        }
        scratch.withUnsafeBytes { hasher.update($0) }
        if let entries, !entries.overflowed {
            summary.removeAll(keepingCapacity: true)
            summary.append(type)
            summary.append(UInt8(ascii: " "))
            Self.appendOctal(UInt32(mode & 0o7777), to: &summary)
            summary.append(UInt8(ascii: " "))
            summary += scratch[extraStart..<extraEnd]
            summary.append(UInt8(ascii: " "))
            if let digest { Self.appendHex(digest, to: &summary) }
            entries.add(prefix: sourcePath, relative, summary)
        }
        return digest
    }

    /// A regular file's raw SHA-256, from the stat cache when its record matches.
    private func fileDigest(
        dirFD: Int32, name: [UInt8], status st: stat, hostPath: @autoclosure () -> String,
        known: ([UInt8], Range<Int>)?, lookup: String?
    ) throws -> [UInt8] {
        let identity = StatRecords.Identity(st)
        if let (data, range) = known {
            let (recorded, digest) = StatRecords.read(data, range)
            if recorded == identity { return Array(digest) }
        } else if let lookup, let data = cache?.learned[lookup] ?? cache?.known[lookup] {
            var cursor = StatRecords.Cursor(data)
            if let range = name.withUnsafeBufferPointer({ cursor.find($0) }) {
                let (recorded, digest) = StatRecords.read(data, range)
                if recorded == identity { return Array(digest) }
            }
        }
        var hasher = DigestHasher()
        let fd = name.withUnsafeBufferPointer { openat(dirFD, Self.cName($0), O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        guard fd >= 0 else {
            throw BuildError("cannot read \(hostPath()): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        while true {
            // A big context takes a while: an interrupted build stops here.
            try Task.checkCancellation()
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BuildError("cannot read \(hostPath()): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return hasher.finalizeRaw()
    }

    // MARK: Bytes

    /// `name` NUL-terminated, for the *at system calls.
    private static func cName(_ name: UnsafeBufferPointer<UInt8>) -> [CChar] {
        var c = [CChar](repeating: 0, count: name.count + 1)
        for i in 0..<name.count { c[i] = CChar(bitPattern: name[i]) }
        return c
    }

    private static func readLink(_ dirFD: Int32, _ name: [UInt8]) -> [UInt8] {
        var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = name.withUnsafeBufferPointer { readlinkat(dirFD, cName($0), &target, target.count - 1) }
        guard n >= 0 else { return [] }
        return target[0..<n].map { UInt8(bitPattern: $0) }
    }

    private static func split(_ path: String) -> (String, [UInt8]) {
        let bytes = Array(path.utf8)
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return (".", bytes) }
        let parent = slash == 0 ? "/" : String(decoding: bytes[..<slash], as: UTF8.self)
        return (parent, Array(bytes[(slash + 1)...]))
    }

    private static func appendOctal(_ value: UInt32, to out: inout [UInt8]) {
        let start = out.count
        var v = value
        repeat {
            out.append(UInt8(ascii: "0") + UInt8(v & 7))
            v >>= 3
        } while v > 0
        out[start...].reverse()
    }

    private static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        let start = out.count
        var v = value
        repeat {
            out.append(UInt8(ascii: "0") + UInt8(v % 10))
            v /= 10
        } while v > 0
        out[start...].reverse()
    }

    private static func appendHex(_ bytes: [UInt8], to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: bytes.count * 2))
        out.withUnsafeMutableBufferPointer { target in
            for (index, byte) in bytes.enumerated() {
                let high = byte >> 4
                let low = byte & 0x0f
                target[start + 2 * index] = high < 10 ? 0x30 + high : 0x57 + high
                target[start + 2 * index + 1] = low < 10 ? 0x30 + low : 0x57 + low
            }
        }
    }

    /// One directory opened, listed and `lstat`ed entry by entry: the system calls are most of
    /// an unchanged rebuild's time. The stats go in chunks that any thread may take: a helper
    /// thread starts on them (for the next directory the walk will enter, before the walk gets
    /// there: it also opens and lists it), and the walk takes what is left when it arrives, so
    /// the second core works while the walk hashes and compares the previous directory.
    fileprivate final class DirectoryScan: @unchecked Sendable {
        /// Set once listed (before `listed` is signalled), then only read.
        private(set) var fd: Int32 = -1
        private(set) var openError: Int32 = 0
        private(set) var listing = Listing()
        private var results: UnsafeMutableBufferPointer<stat> = .init(start: nil, count: 0)
        private var present: UnsafeMutableBufferPointer<Bool> = .init(start: nil, count: 0)
        private var chunks = 0
        private static let chunkSize = 64
        private let nextChunk = Atomic<Int>(0)
        private let doneChunks = Atomic<Int>(0)
        private let listed = DispatchSemaphore(value: 0)
        private let finished = DispatchSemaphore(value: 0)

        private init() {}

        /// Starts scanning `name` in `parentFD`: on a helper thread from the start when
        /// `inBackground`, else listed here and (for a big directory) stat'ed by a helper too.
        static func start(parentFD: Int32, name: [UInt8], inBackground: Bool = false) -> DirectoryScan {
            let scan = DirectoryScan()
            if inBackground {
                DispatchQueue.global().async {
                    scan.list(parentFD: parentFD, name: name)
                    scan.work()
                }
            } else {
                scan.list(parentFD: parentFD, name: name)
                if scan.chunks > 1 { DispatchQueue.global().async { scan.work() } }
            }
            return scan
        }

        deinit {
            results.deallocate()
            present.deallocate()
        }

        private func list(parentFD: Int32, name: [UInt8]) {
            defer { listed.signal() }
            let opened = name.withUnsafeBufferPointer { n in
                openat(parentFD, HashWalker.cName(n), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            guard opened >= 0 else {
                openError = errno
                return
            }
            let copy = dup(opened)
            guard copy >= 0, let dir = fdopendir(copy) else {
                openError = errno
                if copy >= 0 { close(copy) }
                close(opened)
                return
            }
            listing = Listing(dir)
            closedir(dir)
            results = .allocate(capacity: listing.count)
            present = .allocate(capacity: listing.count)
            present.initialize(repeating: false)
            chunks = (listing.count + Self.chunkSize - 1) / Self.chunkSize
            fd = opened
        }

        /// Stats chunks until none is left to take.
        private func work() {
            while true {
                let chunk = nextChunk.add(1, ordering: .relaxed).oldValue
                guard chunk < chunks else { return }
                let end = min((chunk + 1) * Self.chunkSize, listing.count)
                for index in (chunk * Self.chunkSize)..<end {
                    var st = stat()
                    if listing.withCName(index, { fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 {
                        results[index] = st
                        present[index] = true
                    }
                }
                if doneChunks.add(1, ordering: .acquiringAndReleasing).newValue == chunks { finished.signal() }
            }
        }

        /// Waits for the listing, stats what no thread has taken yet, waits for the rest: the
        /// directory's descriptor (-1 when it could not be opened: ``openError``), its names and
        /// their stats (nil for an entry that vanished). The caller closes the descriptor.
        func take() -> (fd: Int32, listing: Listing, statuses: [stat?]) {
            listed.wait()
            guard fd >= 0 else { return (-1, listing, []) }
            work()
            if chunks > 0 { finished.wait() }
            var statuses: [stat?] = Array(repeating: nil, count: listing.count)
            for index in 0..<listing.count where present[index] { statuses[index] = results[index] }
            return (fd, listing, statuses)
        }

        /// For a scan the walk never took (it ended early): finishes it, so no helper still uses
        /// the parent's descriptor or this one, and closes this one.
        func abandon() {
            let (fd, _, _) = take()
            if fd >= 0 { close(fd) }
        }
    }

    /// One directory's entry names (without `.` and `..`), sorted bytewise, in one buffer.
    fileprivate struct Listing {
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        var count: Int { ranges.count }

        init() {}

        init(_ dir: OpaquePointer) {
            while let entry = readdir(dir) {
                withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    guard let base = raw.baseAddress else { return }
                    let length = strnlen(base.assumingMemoryBound(to: CChar.self), raw.count)
                    let name = UnsafeRawBufferPointer(rebasing: raw[0..<length])
                    if (length == 1 && name[0] == 0x2e) || (length == 2 && name[0] == 0x2e && name[1] == 0x2e) {
                        return
                    }
                    ranges.append(bytes.count..<(bytes.count + length))
                    bytes.append(contentsOf: name)
                    bytes.append(0)
                }
            }
            let all = bytes
            all.withUnsafeBufferPointer { buffer in
                ranges.sort {
                    StatRecords.Cursor.compare(
                        UnsafeBufferPointer(rebasing: buffer[$0]), UnsafeBufferPointer(rebasing: buffer[$1])) < 0
                }
            }
        }

        func name(_ index: Int) -> [UInt8] { Array(bytes[ranges[index]]) }

        /// Calls `body` with entry `index`'s name as a C string (it is NUL-terminated in place).
        func withCName<R>(_ index: Int, _ body: (UnsafePointer<CChar>) -> R) -> R {
            bytes.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return body("") }
                return body((base + ranges[index].lowerBound).assumingMemoryBound(to: CChar.self))
            }
        }
    }
}
