/// A Dockerfile that cannot be parsed: where (file, line, column) and why, with the line itself.
public struct DockerfileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var fileName: String
    public var line: Int
    public var column: Int
    public var message: String
    public var sourceLine: String?

    public init(fileName: String, line: Int, column: Int = 1, message: String, sourceLine: String? = nil) {
        self.fileName = fileName
        self.line = line
        self.column = column
        self.message = message
        self.sourceLine = sourceLine
    }

    /// `FILE:LINE:COL: message`, then the offending line and a caret under the column.
    public var description: String {
        var text = "\(fileName):\(line):\(column): \(message)"
        if let sourceLine {
            let shown = String(sourceLine.prefix(200))
            text += "\n    \(shown)\n    " + String(repeating: " ", count: max(0, min(column - 1, shown.count))) + "^"
        }
        return text
    }
}
