import Foundation

/// The result of the low-level parse: the syntax tree plus directives and warnings.
public struct ParseResult: Sendable, Equatable {
    /// Children are the instructions.
    public var root: Node
    public var directives: ParserDirectives
    public var warnings: [Diagnostic]
}

/// BuildKit's line parser: directives, comments, continuations, flags, per-instruction argument
/// splitting and heredocs.
public enum Parser {
    /// Parses Dockerfile bytes into the syntax tree.
    public static func parse(_ bytes: [UInt8], fileName: String) throws(DockerfileError) -> ParseResult {
        var lines = splitLines(bytes)
        if let first = lines.first, first.starts(with: [0xEF, 0xBB, 0xBF]) {
            lines[0] = Array(first.dropFirst(3))
        }
        var directives = DirectiveState()
        var root = Node(startLine: -1)
        var warnings: [Diagnostic] = []
        var index = 0
        var currentLine = 0

        func fail(_ message: String, line: Int, column: Int = 1) -> DockerfileError {
            let source = line >= 1 && line <= lines.count ? text(trimNewline(lines[line - 1])) : nil
            return DockerfileError(
                fileName: fileName, line: max(line, 1), column: column, message: message, sourceLine: source)
        }

        while index < lines.count {
            let raw = lines[index]
            index += 1
            var logical: [UInt8]
            do {
                logical = try processLine(&directives, raw, stripLeft: true)
            } catch {
                throw fail(error.message, line: currentLine + 1)
            }
            currentLine += 1
            let startLine = currentLine
            var (trimmed, endOfLine) = trimContinuation(logical, escape: directives.escapeToken)
            if endOfLine && trimmed.isEmpty { continue }
            logical = trimmed
            var emptyContinuation = false
            while !endOfLine && index < lines.count {
                let next = lines[index]
                index += 1
                let processed: [UInt8]
                do {
                    processed = try processLine(&directives, next, stripLeft: false)
                } catch {
                    throw fail(error.message, line: currentLine + 1)
                }
                currentLine += 1
                if isComment(next) { continue }
                if trimLeadingWhitespace(trimNewline(processed)).isEmpty {
                    emptyContinuation = true
                    continue
                }
                (trimmed, endOfLine) = trimContinuation(processed, escape: directives.escapeToken)
                logical += trimmed
            }
            let line = text(logical)
            if emptyContinuation {
                warnings.append(
                    Diagnostic(
                        fileName: fileName, line: currentLine,
                        message:
                            "empty continuation line found in: \(line) (empty continuation lines will become errors)"))
            }
            var child: Node
            do throws(Parser.LineError) {
                child = try LineParsers.nodeFromLine(line, escape: directives.escapeToken)
            } catch {
                throw fail(error.message, line: startLine)
            }
            if child.canContainHeredoc && line.containsScalars("<<") {
                let heredocs: [ParsedHeredoc]
                do throws(Parser.LineError) {
                    heredocs = try HeredocParsing.heredocs(inLine: line)
                } catch {
                    throw fail(error.message, line: startLine)
                }
                for var heredoc in heredocs {
                    var terminated = false
                    while index < lines.count {
                        let body = lines[index]
                        index += 1
                        currentLine += 1
                        var candidate = trimNewline(body)
                        if heredoc.chomp { candidate = Array(candidate.drop { $0 == 0x09 }) }
                        if candidate == Array(heredoc.name.utf8) {
                            terminated = true
                            break
                        }
                        heredoc.content += text(body)
                    }
                    guard terminated else {
                        throw fail(
                            "unterminated heredoc <<\(heredoc.name) (no line '\(heredoc.name)' follows)",
                            line: startLine)
                    }
                    child.heredocs.append(heredoc)
                }
            }
            child.startLine = startLine
            child.endLine = currentLine
            if root.startLine < 0 { root.startLine = startLine }
            root.endLine = currentLine
            root.children.append(child)
        }
        guard root.startLine >= 0 else {
            throw DockerfileError(
                fileName: fileName, line: max(currentLine, 1), column: 1,
                message: lines.isEmpty ? "the Dockerfile is empty" : "file with no instructions", sourceLine: nil)
        }
        return ParseResult(root: root, directives: directives.directives, warnings: warnings)
    }

    // MARK: - Lines

    /// Splits into lines, keeping each line's `\n` (heredoc bodies need it).
    static func splitLines(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var start = 0
        for (i, byte) in bytes.enumerated() where byte == 0x0A {
            lines.append(Array(bytes[start...i]))
            start = i + 1
        }
        if start < bytes.count { lines.append(Array(bytes[start...])) }
        return lines
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    static func trimNewline(_ line: [UInt8]) -> [UInt8] {
        var end = line.count
        if end > 0 && line[end - 1] == 0x0A { end -= 1 }
        if end > 0 && line[end - 1] == 0x0D { end -= 1 }
        return Array(line[..<end])
    }

    static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0B || b == 0x0C || b == 0x0D
    }

    static func trimLeadingWhitespace(_ line: [UInt8]) -> [UInt8] {
        Array(line.drop(while: isSpace))
    }

    static func isComment(_ line: [UInt8]) -> Bool {
        trimLeadingWhitespace(trimNewline(line)).first == 0x23
    }

    struct LineError: Error { var message: String }

    /// BuildKit's processLine: newline trimmed, optionally left-trimmed, comment removed; each
    /// line is also offered to the directive scanner.
    static func processLine(_ directives: inout DirectiveState, _ raw: [UInt8], stripLeft: Bool) throws(LineError)
        -> [UInt8]
    {
        var line = trimNewline(raw)
        if stripLeft { line = trimLeadingWhitespace(line) }
        try directives.consider(text(line))
        return isComment(line) ? [] : line
    }

    /// Strips a trailing escape token (plus spaces and tabs after it); true when the line ends here.
    static func trimContinuation(_ line: [UInt8], escape: Character) -> ([UInt8], Bool) {
        var end = line.count
        while end > 0 && (line[end - 1] == 0x20 || line[end - 1] == 0x09) { end -= 1 }
        let token = escape == "`" ? UInt8(ascii: "`") : UInt8(ascii: "\\")
        // A lone escape continues; an escaped escape (`\\` at the end) does not.
        if end > 0 && line[end - 1] == token && (end == 1 || line[end - 2] != token) {
            return (Array(line[..<(end - 1)]), false)
        }
        return (line, true)
    }
}

/// Parser directives: only at the very top, each once.
struct DirectiveState {
    var directives = ParserDirectives()
    var escapeToken: Character { directives.escapeToken }
    private var done = false
    private var seen = Set<String>()

    mutating func consider(_ line: String) throws(Parser.LineError) {
        guard !done else { return }
        guard let (key, value) = Self.match(line) else {
            done = true
            return
        }
        guard ["syntax", "escape", "check"].contains(key) else {
            done = true
            return
        }
        guard seen.insert(key).inserted else {
            throw Parser.LineError(message: "only one \(key) parser directive can be used")
        }
        switch key {
        case "escape":
            guard value == "`" || value == "\\" else {
                throw Parser.LineError(message: "invalid escape token '\(value)' does not match ` or \\")
            }
            directives.escapeToken = Character(value)
        case "syntax": directives.syntax = value
        default: directives.check = value
        }
    }

    /// `^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$`
    static func match(_ line: String) -> (String, String)? {
        var chars = Substring(line)
        guard chars.first == "#" else { return nil }
        chars = chars.dropFirst().drop { $0 == " " || $0 == "\t" }
        guard let first = chars.first, first.isASCII, first.isLetter else { return nil }
        let name = chars.prefix { $0.isASCII && ($0.isLetter || $0.isNumber) }
        chars = chars.dropFirst(name.count).drop { $0 == " " || $0 == "\t" }
        guard chars.first == "=" else { return nil }
        var value = chars.dropFirst().drop { $0 == " " || $0 == "\t" }
        while let last = value.last, last == " " || last == "\t" { value = value.dropLast() }
        guard !value.isEmpty else { return nil }
        return (name.lowercased(), String(value))
    }
}

extension Node {
    /// RUN, COPY and ADD in shell form may carry heredocs.
    var canContainHeredoc: Bool {
        ["run", "copy", "add"].contains(value.lowercased()) && !isJSON
    }
}
