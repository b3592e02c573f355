import Foundation

/// Per-instruction argument splitting, as BuildKit's line parsers do it.
enum LineParsers {
    /// Builds an instruction node from a logical line: keyword, `--flags`, then arguments split
    /// the way the instruction wants them.
    ///
    /// Lines are read as Unicode scalars, as BuildKit reads runes: a combining mark after a quote,
    /// an escape or a space does not hide it (as a Swift `Character`, the pair would be one).
    static func nodeFromLine(_ line: String, escape: Character) throws(Parser.LineError) -> Node {
        let trimmed = line.trimming(.whitespaces).unicodeScalars
        let keywordEnd = trimmed.firstIndex { isSpace($0) } ?? trimmed.endIndex
        let keyword = String(trimmed[..<keywordEnd])
        var rest = String(String.UnicodeScalarView(trimmed[keywordEnd...].drop { isSpace($0) }))
        var flags: [String] = []
        if !rest.isEmpty {
            (rest, flags) = extractFlags(rest)
        }
        rest = rest.trimming(.whitespaces)
        var node = Node(value: keyword, flags: flags, original: line)
        switch keyword.lowercased() {
        case "add", "copy", "volume":
            (node.next, node.isJSON) = try maybeJSONToList(rest)
        case "arg":
            node.next = words(rest, escape: escape).map { Node(value: $0) }
        case "cmd", "entrypoint", "run", "shell":
            (node.next, node.isJSON) = try maybeJSON(rest)
        case "env":
            node.next = try nameValues(rest, keyword: "ENV", escape: escape)
        case "label":
            node.next = try nameValues(rest, keyword: "LABEL", escape: escape)
        case "expose", "from":
            node.next = whitespaceDelimited(rest)
        case "healthcheck":
            (node.next, node.isJSON) = try healthcheck(rest)
        case "maintainer", "stopsignal", "user", "workdir":
            node.next = rest.isEmpty ? [] : [Node(value: rest)]
        case "onbuild":
            if !rest.isEmpty {
                node.next = [Node(children: [try nodeFromLine(rest, escape: escape)])]
            }
        default:
            // Unknown instructions parse; the instruction layer rejects them with a suggestion.
            node.next = [Node()]
        }
        return node
    }

    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || c == "\u{0B}" || c == "\u{0C}" || c == "\r" || c == "\n"
    }

    /// Go's unicode.IsSpace (the White_Space property).
    static func isWhitespace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }

    /// The scalars of `text` as a string.
    static func string<S: Sequence<Unicode.Scalar>>(_ scalars: S) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// Leading `--name[=value]` words (quotes and backslashes handled); `--` ends them.
    static func extractFlags(_ line: String) -> (String, [String]) {
        let chars = Array(line.unicodeScalars)
        var words: [String] = []
        var word = String.UnicodeScalarView()
        var blankOK = false
        var quote: Unicode.Scalar = "\0"
        enum Phase { case spaces, word, quote }
        var phase = Phase.spaces
        var pos = 0
        while pos <= chars.count {
            let atEnd = pos == chars.count
            let ch: Unicode.Scalar = atEnd ? "\0" : chars[pos]
            if phase == .spaces {
                if atEnd { break }
                if isSpace(ch) {
                    pos += 1
                    continue
                }
                if ch != "-" || pos + 1 == chars.count || chars[pos + 1] != "-" {
                    return (string(chars[pos...]), words)
                }
                phase = .word
            }
            if atEnd {
                if String(word) != "--" && (blankOK || !word.isEmpty) { words.append(String(word)) }
                break
            }
            if phase == .word {
                if isSpace(ch) {
                    phase = .spaces
                    if String(word) == "--" { return (string(chars[pos...]), words) }
                    if blankOK || !word.isEmpty { words.append(String(word)) }
                    word = String.UnicodeScalarView()
                    blankOK = false
                    pos += 1
                    continue
                }
                if ch == "'" || ch == "\"" {
                    quote = ch
                    blankOK = true
                    phase = .quote
                    pos += 1
                    continue
                }
                var c = ch
                if c == "\\" {
                    if pos + 1 == chars.count {
                        pos += 1
                        continue
                    }
                    pos += 1
                    c = chars[pos]
                }
                word.append(c)
                pos += 1
                continue
            }
            // In quotes.
            if ch == quote {
                phase = .word
                pos += 1
                continue
            }
            var c = ch
            if c == "\\" {
                if pos + 1 == chars.count {
                    phase = .word
                    pos += 1
                    continue
                }
                pos += 1
                c = chars[pos]
            }
            word.append(c)
            pos += 1
        }
        return ("", words)
    }

    /// Whitespace-separated words keeping quotes and escapes (BuildKit's parseWords).
    static func words(_ rest: String, escape escapeToken: Character) -> [String] {
        let chars = Array(rest.unicodeScalars)
        let escape = escapeToken.unicodeScalars.first ?? "\\"
        var words: [String] = []
        var word = String.UnicodeScalarView()
        var blankOK = false
        var quote: Unicode.Scalar = "\0"
        enum Phase { case spaces, word, quote }
        var phase = Phase.spaces
        var pos = 0
        while pos <= chars.count {
            let atEnd = pos == chars.count
            var ch: Unicode.Scalar = atEnd ? "\0" : chars[pos]
            if phase == .spaces {
                if atEnd { break }
                if isWhitespace(ch) {
                    pos += 1
                    continue
                }
                phase = .word
            }
            if atEnd {
                if blankOK || !word.isEmpty { words.append(String(word)) }
                break
            }
            if phase == .word {
                if isWhitespace(ch) {
                    phase = .spaces
                    if blankOK || !word.isEmpty { words.append(String(word)) }
                    word = String.UnicodeScalarView()
                    blankOK = false
                    pos += 1
                    continue
                }
                if ch == "'" || ch == "\"" {
                    quote = ch
                    blankOK = true
                    phase = .quote
                }
                if ch == escape {
                    if pos + 1 == chars.count {
                        pos += 1
                        continue
                    }
                    word.append(ch)
                    pos += 1
                    ch = chars[pos]
                }
                word.append(ch)
                pos += 1
                continue
            }
            if ch == quote { phase = .word }
            if ch == escape && quote != "'" {
                if pos + 1 == chars.count {
                    phase = .word
                    pos += 1
                    continue
                }
                pos += 1
                word.append(ch)
                ch = chars[pos]
            }
            word.append(ch)
            pos += 1
        }
        return words
    }

    /// ENV and LABEL: `key=value …` pairs, or the legacy `KEY name value`.
    static func nameValues(_ rest: String, keyword: String, escape: Character) throws(Parser.LineError) -> [Node] {
        let list = words(rest, escape: escape)
        guard let first = list.first else { return [] }
        if !first.unicodeScalars.contains("=") {
            let parts = splitWhitespace(rest, limit: 2)
            guard parts.count == 2 else {
                throw Parser.LineError(message: "\(keyword) must have two arguments")
            }
            return [Node(value: parts[0]), Node(value: parts[1]), Node(value: "")]
        }
        var nodes: [Node] = []
        for word in list {
            let scalars = word.unicodeScalars
            guard let eq = scalars.firstIndex(of: "=") else {
                throw Parser.LineError(
                    message: "Syntax error - can't find = in \(GoQuote.quote(word)). Must be of the form: name=value")
            }
            nodes += [
                Node(value: String(scalars[..<eq])), Node(value: String(scalars[scalars.index(after: eq)...])),
                Node(value: "="),
            ]
        }
        return nodes
    }

    /// Splits on runs of `[\t\v\f\r ]`.
    static func splitWhitespace(_ text: String, limit: Int = .max) -> [String] {
        var parts: [String] = []
        var current = String.UnicodeScalarView()
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        let separators: Set<Unicode.Scalar> = [" ", "\t", "\u{0B}", "\u{0C}", "\r"]
        while index < scalars.endIndex {
            let c = scalars[index]
            if separators.contains(c) && parts.count < limit - 1 {
                parts.append(String(current))
                current = String.UnicodeScalarView()
                while index < scalars.endIndex && separators.contains(scalars[index]) {
                    index = scalars.index(after: index)
                }
                continue
            }
            current.append(c)
            index = scalars.index(after: index)
        }
        parts.append(String(current))
        return parts
    }

    static func whitespaceDelimited(_ rest: String) -> [Node] {
        rest.isEmpty ? [] : splitWhitespace(rest).map { Node(value: $0) }
    }

    /// A JSON array of strings, or nil when `rest` is not JSON; throws for arrays of non-strings.
    static func jsonArray(_ rest: String) throws(Parser.LineError) -> [String]? {
        let text = String(String.UnicodeScalarView(rest.unicodeScalars.drop(while: isWhitespace)))
        guard text.hasPrefix("[") else { return nil }
        guard let data = text.data(using: .utf8),
            let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
            let array = value as? [Any]
        else { return nil }
        var strings: [String] = []
        for element in array {
            guard let string = element as? String else {
                throw Parser.LineError(message: "dockerfile command must be an array of strings")
            }
            strings.append(string)
        }
        return strings
    }

    static func maybeJSON(_ rest: String) throws(Parser.LineError) -> ([Node], Bool) {
        if rest.isEmpty { return ([], false) }
        if let array = try jsonArray(rest) { return (array.map { Node(value: $0) }, true) }
        return ([Node(value: rest)], false)
    }

    static func maybeJSONToList(_ rest: String) throws(Parser.LineError) -> ([Node], Bool) {
        if let array = try jsonArray(rest) { return (array.map { Node(value: $0) }, true) }
        return (whitespaceDelimited(rest), false)
    }

    static func healthcheck(_ rest: String) throws(Parser.LineError) -> ([Node], Bool) {
        let scalars = rest.unicodeScalars
        guard let separator = scalars.firstIndex(where: isWhitespace) ?? (rest.isEmpty ? nil : scalars.endIndex),
            separator != scalars.startIndex
        else { return ([], false) }
        let type = String(scalars[..<separator])
        let command = String(String.UnicodeScalarView(scalars[separator...].drop(while: isWhitespace)))
        let (next, json) = try maybeJSON(command)
        return ([Node(value: type)] + next, json)
    }
}

extension Parser.LineError {
    init(_ message: String) { self.message = message }
}
