import Foundation
import OCIImage
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A container's output in docker's json-file form: one JSON object per chunk,
/// `{"log":"…","stream":"stdout","time":"…"}`, in `log.json`, rotated to `log.json.1` past
/// `maximumBytes` so a chatty container cannot fill the disk.
public final class ContainerLog: Sendable {
    public let path: String
    public let maximumBytes: Int
    private let state: Mutex<(fd: Int32, size: Int)>

    /// One entry as read back.
    public struct Entry: Sendable, Codable {
        public var log: String
        public var stream: String
        public var time: String
    }

    public init(directory: String, maximumBytes: Int = 10 << 20) {
        path = directory + "/log.json"
        self.maximumBytes = maximumBytes
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        var st = stat()
        let size = fd >= 0 && fstat(fd, &st) == 0 ? Int(st.st_size) : 0
        state = Mutex((fd, size))
    }

    deinit {
        state.withLock { if $0.fd >= 0 { close($0.fd) } }
    }

    /// Appends a chunk of output, one entry per line as docker does.
    public func append(_ stream: String, _ bytes: [UInt8]) {
        var start = 0
        var lines: [[UInt8]] = []
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            lines.append(Array(bytes[start...index]))
            start = index + 1
        }
        if start < bytes.count { lines.append(Array(bytes[start...])) }
        let time = Timestamp.rfc3339(Date())
        var data: [UInt8] = []
        for line in lines {
            let entry = Entry(log: String(decoding: line, as: UTF8.self), stream: stream, time: time)
            if let json = try? JSONEncoder().encode(entry) { data += Array(json) + [UInt8(ascii: "\n")] }
        }
        state.withLock { state in
            if state.size + data.count > maximumBytes {
                close(state.fd)
                rename(path, path + ".1")
                state.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o640)
                state.size = 0
            }
            guard state.fd >= 0 else { return }
            _ = data.withUnsafeBytes { write(state.fd, $0.baseAddress, $0.count) }
            state.size += data.count
        }
    }

    /// Entries in `directory`'s log (the rotated file first), starting at byte `offset` of the
    /// current file; returns them and the offset to continue from.
    public static func read(directory: String, from offset: Int = 0) -> (entries: [Entry], offset: Int) {
        var entries: [Entry] = []
        if offset == 0, let old = FileManager.default.contents(atPath: directory + "/log.json.1") {
            entries += parse(old)
        }
        guard let handle = FileHandle(forReadingAtPath: directory + "/log.json") else { return (entries, offset) }
        defer { try? handle.close() }
        try? handle.seek(toOffset: UInt64(offset))
        let data = (try? handle.readToEnd()) ?? Data()
        // Only whole lines; a partial last line is read next time.
        guard let lastNewline = data.lastIndex(of: UInt8(ascii: "\n")) else { return (entries, offset) }
        let complete = data[data.startIndex...lastNewline]
        entries += parse(complete)
        return (entries, offset + complete.count)
    }

    private static func parse(_ data: Data) -> [Entry] {
        data.split(separator: UInt8(ascii: "\n")).compactMap { try? JSONDecoder().decode(Entry.self, from: Data($0)) }
    }
}
