/// Slash-separated paths as the kernel and Go read them: a `/` is the byte 0x2F wherever it is.
///
/// Swift's `String` compares and splits by grapheme cluster, in which a combining mark joins the
/// character before it: `"/\u{301}x".hasPrefix("/")` is false and `"../\u{301}x"` does not split
/// at its slash, so `..` hides inside a name that the kernel then walks as a real `..`. Every
/// path from a Dockerfile, a context, an image or the command line goes through these instead.
extension String {
    /// True when the path starts with `/`.
    public var startsWithSlash: Bool { utf8.first == UInt8(ascii: "/") }

    /// True when the path ends with `/`.
    public var endsWithSlash: Bool { utf8.last == UInt8(ascii: "/") }

    /// The components between slashes; empty ones (from `//`, a leading or a trailing slash)
    /// are left out unless `keepingEmpty`.
    public func slashComponents(keepingEmpty: Bool = false) -> [String] {
        utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: !keepingEmpty).map {
            String(decoding: $0, as: UTF8.self)
        }
    }

    /// The path without its last component (`/a/b/` → `/a`, `/a` → `/`, `a` → empty), as
    /// NSString's `deletingLastPathComponent` means to (whose Linux version splits by
    /// Character, so that `/a/b/\u{301}x` lost two components).
    public var parentPath: String {
        let slash = UInt8(ascii: "/")
        var bytes = Array(utf8)
        while bytes.count > 1 && bytes.last == slash { bytes.removeLast() }
        guard var end = bytes.lastIndex(of: slash) else { return "" }
        while end > 0 && bytes[end - 1] == slash { end -= 1 }
        return end == 0 ? "/" : String(decoding: bytes[..<end], as: UTF8.self)
    }

    /// The last component (`/a/b/` → `b`; `/` for the root itself), never holding a slash.
    public var lastComponent: String {
        slashComponents().last ?? (startsWithSlash ? "/" : "")
    }

    /// The path after `prefix` and a slash, when the path lies below `prefix` (compared as
    /// bytes); nil otherwise.
    public func relativePath(under prefix: String) -> String? {
        let bytes = Array(utf8)
        let head = Array(prefix.utf8)
        guard bytes.count > head.count + 1, bytes.starts(with: head), bytes[head.count] == UInt8(ascii: "/") else {
            return nil
        }
        return String(decoding: bytes[(head.count + 1)...], as: UTF8.self)
    }
}
