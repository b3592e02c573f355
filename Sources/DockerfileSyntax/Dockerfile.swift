/// A parsed Dockerfile: parser directives, global ARGs and build stages, each holding typed
/// instructions with their source locations. Variables are not expanded here: the build engine
/// expands each instruction with ``Command/expanded(with:)`` once it knows the environment.
public struct Dockerfile: Sendable, Equatable {
    /// The file name used in error messages and locations.
    public var fileName: String
    /// Parser directives found at the top of the file.
    public var directives: ParserDirectives
    /// ARG instructions before the first FROM (usable in FROM lines, re-declared to be visible inside a stage).
    public var globalArgs: [ArgCommand]
    /// The build stages in file order.
    public var stages: [Stage]
    /// Non-fatal findings (e.g. deprecated forms, empty continuation lines).
    public var warnings: [Diagnostic]

    public init(
        fileName: String, directives: ParserDirectives = .init(), globalArgs: [ArgCommand] = [],
        stages: [Stage] = [], warnings: [Diagnostic] = []
    ) {
        self.fileName = fileName
        self.directives = directives
        self.globalArgs = globalArgs
        self.stages = stages
        self.warnings = warnings
    }
}

/// Parser directives (`# syntax=`, `# escape=`, `# check=`).
public struct ParserDirectives: Sendable, Equatable {
    /// The escape token: `\` (default) or `` ` ``.
    public var escapeToken: Character = "\\"
    public var syntax: String?
    public var check: String?
    public init(escapeToken: Character = "\\", syntax: String? = nil, check: String? = nil) {
        self.escapeToken = escapeToken
        self.syntax = syntax
        self.check = check
    }
}

/// Where an instruction sits in its file (1-based, inclusive lines).
public struct SourceRange: Sendable, Equatable, Hashable, Codable {
    public var startLine: Int
    public var endLine: Int
    public init(startLine: Int, endLine: Int) {
        self.startLine = startLine
        self.endLine = endLine
    }
}

/// A warning or note about the Dockerfile, with its location.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    public var fileName: String
    public var line: Int
    public var column: Int
    public var message: String
    public init(fileName: String, line: Int, column: Int = 1, message: String) {
        self.fileName = fileName
        self.line = line
        self.column = column
        self.message = message
    }
    public var description: String { "\(fileName):\(line):\(column): \(message)" }
}

/// One build stage: `FROM [--platform=P] BASE [AS NAME]` and the instructions after it.
public struct Stage: Sendable, Equatable {
    /// The stage name after `AS`, lower-cased as BuildKit does, or nil.
    public var name: String?
    /// The base image reference, `scratch`, or an earlier stage's name; not yet expanded (global ARGs apply).
    public var baseName: String
    /// `--platform` value, not yet expanded.
    public var platform: String?
    /// The FROM line's original text.
    public var original: String
    public var location: SourceRange
    public var commands: [Command]

    public init(
        name: String?, baseName: String, platform: String?, original: String, location: SourceRange,
        commands: [Command]
    ) {
        self.name = name
        self.baseName = baseName
        self.platform = platform
        self.original = original
        self.location = location
        self.commands = commands
    }
}
