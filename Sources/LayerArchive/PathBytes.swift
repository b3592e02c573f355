#if canImport(Glibc)
    import Glibc
#endif

/// File names and relative paths as the raw bytes the kernel and tar headers hold.
///
/// Linux names are any bytes but `/` and NUL, so they need not be UTF-8; walking, archiving and
/// unpacking keep them as `[UInt8]` and decode them (lossily) only for messages.
enum PathBytes {
    static let slash = UInt8(ascii: "/")

    /// `bytes` NUL-terminated, for system calls and libarchive's `const char *` parameters.
    static func cString(_ bytes: [UInt8]) -> [CChar] {
        var result = [CChar]()
        result.reserveCapacity(bytes.count + 1)
        for byte in bytes { result.append(CChar(bitPattern: byte)) }
        result.append(0)
        return result
    }

    /// The bytes of a NUL-terminated C string (without the NUL).
    static func bytes(_ pointer: UnsafePointer<CChar>) -> [UInt8] {
        let count = strlen(pointer)
        return pointer.withMemoryRebound(to: UInt8.self, capacity: count) {
            Array(UnsafeBufferPointer(start: $0, count: count))
        }
    }

    /// A readable form for messages: invalid UTF-8 shows as U+FFFD.
    static func display(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// `parent/child`, or `child` alone when `parent` is empty.
    static func join(_ parent: [UInt8], _ child: [UInt8]) -> [UInt8] {
        if parent.isEmpty { return child }
        return parent + [slash] + child
    }

    /// Joins components with `/`.
    static func joined<C: Collection>(_ components: C) -> [UInt8] where C.Element == [UInt8] {
        var result: [UInt8] = []
        for component in components {
            if !result.isEmpty { result.append(slash) }
            result += component
        }
        return result
    }

    /// The names in the directory open at `fd` (without `.` and `..`), in readdir order; an
    /// unreadable directory gives none. `fd` stays open.
    static func children(ofDirectory fd: Int32) -> [[UInt8]] {
        let copy = dup(fd)
        guard copy >= 0 else { return [] }
        guard let dir = fdopendir(copy) else {
            close(copy)
            return []
        }
        defer { closedir(dir) }
        return names(in: dir)
    }

    /// The names read from an open directory stream, without `.` and `..`.
    static func names(in dir: OpaquePointer) -> [[UInt8]] {
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name != [0x2e] && name != [0x2e, 0x2e] { names.append(name) }
        }
        return names
    }
}

/// Runs `body` with the calling thread in the C locale (`uselocale`, never `setlocale`).
///
/// libarchive converts names between UTF-8 and the locale's charset. In the C locale it cannot
/// convert any byte above 0x7f, and then keeps names raw: the PAX writer stores them under
/// `hdrcharset=BINARY` (with `ARCHIVE_WARN`) and the reader returns a `path=` record's bytes as
/// they are (also with `ARCHIVE_WARN`). In a UTF-8 locale the reader would instead normalize
/// names to NFC and the writer would emit other bytes, so pinning the locale keeps names
/// byte-exact and layers reproducible whatever the host program set.
func withCLocale<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    guard let locale = newlocale(LC_CTYPE_MASK, "C", nil) else { return try body() }
    let previous = uselocale(locale)
    defer {
        uselocale(previous)
        freelocale(locale)
    }
    return try body()
}
