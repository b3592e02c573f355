import CArchive
import Foundation
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// The destination of a written tar: a file descriptor, with every byte hashed on the way so a
/// layer's diff ID needs no second pass.
///
/// Bytes are gathered into chunks of ``chunkSize``. While the whole output fits in one chunk,
/// nothing else happens until ``finish()``. Once a chunk fills up, a second thread starts and takes
/// the hashing (and writing) of full chunks off the producer, so reading the files for the next
/// chunk and SHA-256 of the last one run side by side: for a 220 MB layer that is most of the
/// hash's ~0.2 s off the critical path. The bytes and their order are the same either way.
///
/// Ownership: the producer (the caller of ``writeThrough(_:archive:)`` and ``finish()``) fills chunk `k`
/// while the hashing thread owns only chunks it was handed through `filled` and gives back through
/// `free`; ``hasher`` and ``failure`` are read by the producer only after the thread has ended
/// (`ended`), so the semaphores order every access. Hence `@unchecked Sendable`.
final class ArchiveSink: @unchecked Sendable {
    let fd: Int32
    /// The hash of every byte written; complete once ``finish()`` returned.
    private(set) var hasher = DigestHasher()
    /// errno of the first failed write, or 0; final once ``finish()`` returned.
    private(set) var failure: Int32 = 0

    static let chunkSize = 1 << 20
    private static let chunkCount = 4

    /// Chunk memory (made before the hashing thread starts, never changed while it runs) and each
    /// handed-over chunk's length (-1: the end), in fixed memory so neither thread ever replaces
    /// the storage the other reads.
    private var chunks: [UnsafeMutableRawPointer] = []
    private let lengths = UnsafeMutablePointer<Int>.allocate(capacity: ArchiveSink.chunkCount)
    /// The chunk the producer is filling (counts up; the slot is `filling % chunkCount`) and how
    /// much of it is filled.
    private var filling = 0
    private var fill = 0
    private var started = false
    private var finished = false
    /// errno of a failed write, set by the hashing thread, read by the producer between chunks.
    private let failedLock = NSLock()
    private var failedErrno: Int32 = 0
    private let filled = DispatchSemaphore(value: 0)
    private let free = DispatchSemaphore(value: chunkCount - 1)
    private let ended = DispatchSemaphore(value: 0)

    init(fd: Int32) {
        self.fd = fd
        lengths.initialize(repeating: 0, count: Self.chunkCount)
        chunks.append(UnsafeMutableRawPointer.allocate(byteCount: Self.chunkSize, alignment: 64))
    }

    /// The hashing thread keeps the sink alive until ``finish()`` ends it, so every user calls
    /// ``finish()`` (on error paths too, e.g. in a `defer`).
    deinit {
        for chunk in chunks { chunk.deallocate() }
        lengths.deallocate()
    }

    /// Opens a libarchive writer (PAX) that sends its output here unblocked (no block padding, so
    /// the bytes are the same as with any block size).
    func openWriter(path: String) throws(LayerArchiveError) -> OpaquePointer {
        guard let archive = archive_write_new() else { throw LayerArchiveError(path: path, message: "out of memory") }
        archive_write_set_format_pax_restricted(archive)
        archive_write_set_bytes_per_block(archive, 0)
        archive_write_set_bytes_in_last_block(archive, 1)
        let context = Unmanaged.passUnretained(self).toOpaque()
        let rc = archive_write_open2(
            archive, context, nil,
            { archive, context, buffer, length in
                guard let context, let buffer else { return -1 }
                let sink = Unmanaged<ArchiveSink>.fromOpaque(context).takeUnretainedValue()
                return sink.writeThrough(UnsafeRawBufferPointer(start: buffer, count: length), archive: archive)
            }, nil, nil)
        guard rc == ARCHIVE_OK else {
            let message = archiveErrorMessage(archive)
            archive_write_free(archive)
            throw LayerArchiveError(path: path, message: message)
        }
        return archive
    }

    /// Takes `bytes` into the current chunk, handing full chunks to the hashing thread; returns
    /// the count taken, or -1 once a write has failed (its errno set as `archive`'s error, and in
    /// ``failure`` after ``finish()``).
    func writeThrough(_ bytes: UnsafeRawBufferPointer, archive: OpaquePointer?) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        var offset = 0
        while offset < bytes.count {
            let n = min(bytes.count - offset, Self.chunkSize - fill)
            (chunks[filling % Self.chunkCount] + fill).copyMemory(from: base + offset, byteCount: n)
            fill += n
            offset += n
            if fill == Self.chunkSize {
                let code = submit()
                if code != 0 {
                    if let archive { berth_archive_set_errno(archive, code) }
                    return -1
                }
            }
        }
        return bytes.count
    }

    /// Hands the full chunk over and takes the next free one; the errno of a failed write, or 0.
    private func submit() -> Int32 {
        if !started { start() }
        lengths[filling % Self.chunkCount] = fill
        filled.signal()
        free.wait()
        filling += 1
        fill = 0
        return failedLock.withLock { failedErrno }
    }

    private func start() {
        started = true
        for _ in 1..<Self.chunkCount {
            chunks.append(UnsafeMutableRawPointer.allocate(byteCount: Self.chunkSize, alignment: 64))
        }
        let thread = Thread { [self] in
            var next = 0
            while true {
                filled.wait()
                let length = lengths[next % Self.chunkCount]
                if length < 0 { break }
                consume(UnsafeRawBufferPointer(start: chunks[next % Self.chunkCount], count: length))
                next += 1
                free.signal()
            }
            ended.signal()
        }
        thread.name = "layer-hash"
        thread.start()
    }

    /// Hashes and writes one chunk (on the hashing thread, or inline when it never started).
    private func consume(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bytes)
        guard failure == 0 else { return }
        if !writeAll(bytes) {
            let code = failure
            failedLock.withLock { failedErrno = code }
        }
    }

    /// Hashes and writes what is left, and waits for the hashing thread; false when a write
    /// failed (errno in ``failure``). ``hasher`` is complete afterwards. Calling it again does
    /// nothing more.
    @discardableResult
    func finish() -> Bool {
        if !finished {
            finished = true
            if started {
                _ = submit()  // the last, partial chunk (a failure is in `failure` afterwards)
                lengths[filling % Self.chunkCount] = -1
                filled.signal()
                ended.wait()
            } else if fill > 0 {
                consume(UnsafeRawBufferPointer(start: chunks[0], count: fill))
            }
            fill = 0
        }
        return failure == 0
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, base + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = errno
                return false
            }
            offset += n
        }
        written += Int64(bytes.count)
        if written - flushedTo >= Self.writebackStep {
            // Start writing the finished part to disk now, so the fsync before the blob is moved
            // into place waits for little (the bytes are the same; this only starts I/O early).
            _ = berth_start_writeback(fd, flushedTo, written - flushedTo)
            flushedTo = written
        }
        return true
    }

    /// Bytes written so far, and how far write-back has been started.
    private var written: Int64 = 0
    private var flushedTo: Int64 = 0
    private static let writebackStep: Int64 = 16 << 20
}
