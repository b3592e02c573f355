import DockerfileSyntax

/// Why a build failed, with the Dockerfile location when an instruction is to blame.
public struct BuildError: Error, Sendable, CustomStringConvertible {
    /// The Dockerfile and the failing instruction's lines, when known.
    public var fileName: String?
    public var location: SourceRange?
    /// Source lines around the failure with a marker (filled by the builder).
    public var excerpt: String?
    public var message: String

    public init(_ message: String, fileName: String? = nil, location: SourceRange? = nil, excerpt: String? = nil) {
        self.message = message
        self.fileName = fileName
        self.location = location
        self.excerpt = excerpt
    }

    public var description: String {
        var text = ""
        if let fileName, let location {
            text += "\(fileName):\(location.startLine): "
        }
        text += message
        if let excerpt { text += "\n" + excerpt }
        return text
    }
}
