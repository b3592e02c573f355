/// A docker-style image reference: `[registry[:port]/]repository[:tag][@digest]`.
///
/// Defaults follow docker: `busybox` is `docker.io/library/busybox:latest`.
public struct ImageReference: Sendable, Hashable, Codable, CustomStringConvertible {
    public static let defaultRegistry = "docker.io"
    public static let defaultTag = "latest"

    /// Registry host (and port), e.g. `docker.io` or `localhost:5000`.
    public var registry: String
    /// Repository path, e.g. `library/busybox`.
    public var repository: String
    public var tag: String?
    public var digest: Digest?

    /// Parses and normalizes a reference, throwing ``OCIError/invalidReference(_:reason:)``.
    public init(parsing text: String) throws(OCIError) {
        guard !text.isEmpty else { throw .invalidReference(text, reason: "empty reference") }
        guard text.utf8.count <= 4096 else { throw .invalidReference(text, reason: "too long") }
        var rest = Substring(text)
        var digest: Digest?
        if let at = rest.firstIndex(of: "@") {
            do {
                digest = try Digest(parsing: String(rest[rest.index(after: at)...]))
            } catch {
                throw .invalidReference(text, reason: error.description)
            }
            rest = rest[..<at]
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            tag = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var registry = Self.defaultRegistry
        if components.count > 1,
            let first = components.first,
            first.contains(".") || first.contains(":") || first == "localhost"
        {
            registry = first
            components.removeFirst()
        }
        if registry == "index.docker.io" || registry == "registry-1.docker.io" {
            registry = Self.defaultRegistry
        }
        if registry == Self.defaultRegistry && components.count == 1 {
            components.insert("library", at: 0)
        }
        for component in components {
            guard Self.isValidPathComponent(component) else {
                throw .invalidReference(
                    text,
                    reason: component.isEmpty
                        ? "empty path component"
                        : "repository name component '\(component)' must be lower-case letters, digits and separators (. _ __ -)"
                )
            }
        }
        if let tag, !Self.isValidTag(tag) {
            throw .invalidReference(
                text, reason: "tag '\(tag)' must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
        }
        self.registry = registry
        self.repository = components.joined(separator: "/")
        self.tag = tag ?? (digest == nil ? Self.defaultTag : nil)
        self.digest = digest
    }

    public init(registry: String, repository: String, tag: String?, digest: Digest? = nil) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// The fully qualified form, e.g. `docker.io/library/busybox:latest`.
    public var description: String {
        var s = "\(registry)/\(repository)"
        if let tag { s += ":\(tag)" }
        if let digest { s += "@\(digest)" }
        return s
    }

    /// The short form docker prints: `busybox:latest`, `localhost:5000/app:1`.
    public var familiarName: String {
        var name = repository
        if registry == Self.defaultRegistry {
            if name.hasPrefix("library/") { name.removeFirst("library/".count) }
        } else {
            name = "\(registry)/\(name)"
        }
        if let tag { name += ":\(tag)" }
        if let digest { name += "@\(digest)" }
        return name
    }

    /// `familiarName` without tag or digest.
    public var familiarRepository: String {
        var copy = self
        copy.tag = nil
        copy.digest = nil
        return copy.familiarName
    }

    static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard (1...128).contains(bytes.count) else { return false }
        func word(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x5f
        }
        return word(bytes[0]) && bytes.dropFirst().allSatisfy { word($0) || $0 == 0x2e || $0 == 0x2d }
    }

    static func isValidPathComponent(_ component: String) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a) }
        guard alnum(first), alnum(last) else { return false }
        var i = 0
        while i < bytes.count {
            if alnum(bytes[i]) {
                i += 1
                continue
            }
            // Separators: ".", "_", "__", or one or more "-".
            if bytes[i] == 0x2e {
                i += 1
            } else if bytes[i] == 0x5f {
                i += (i + 1 < bytes.count && bytes[i + 1] == 0x5f) ? 2 : 1
            } else if bytes[i] == 0x2d {
                while i < bytes.count && bytes[i] == 0x2d { i += 1 }
            } else {
                return false
            }
            guard i < bytes.count, alnum(bytes[i]) else { return false }
        }
        return true
    }
}
