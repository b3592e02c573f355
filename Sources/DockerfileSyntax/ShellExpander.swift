/// BuildKit's shell-word lexer: the expansion Dockerfile instructions get (not a full shell).
///
/// `expand` is BuildKit's ProcessWord: quotes removed, escapes applied, `$VAR` and `${…}` forms
/// substituted. `expandWords` is ProcessWords: the same, split into words at unquoted whitespace
/// (whitespace inside an unquoted variable's value splits too).
public struct ShellExpander: Sendable {
    public let escapeToken: Character

    public init(escapeToken: Character = "\\") {
        self.escapeToken = escapeToken
    }

    /// Expands one word.
    public func expand(_ word: String, lookup: (String) -> String?) throws(ExpansionError) -> String {
        try withoutActuallyEscaping(lookup) { (lookup) throws(ExpansionError) in
            var lexer = Lexer(word, escape: escapeToken, lookup: lookup)
            return try lexer.process(stopOn: nil).text
        }
    }

    /// Expands and splits into words.
    public func expandWords(_ word: String, lookup: (String) -> String?) throws(ExpansionError) -> [String] {
        try withoutActuallyEscaping(lookup) { (lookup) throws(ExpansionError) in
            var lexer = Lexer(word, escape: escapeToken, lookup: lookup)
            return try lexer.process(stopOn: nil).words
        }
    }

    /// Lexer options BuildKit uses internally (heredoc detection): keep quote characters, keep
    /// escape characters, leave unset variables as written.
    struct Options {
        var rawQuotes = false
        var rawEscapes = false
        var skipUnset = false
    }

    func expandWords(_ word: String, options: Options) throws(ExpansionError) -> [String] {
        var lexer = Lexer(word, escape: escapeToken, lookup: { (_: String) -> String? in nil })
        lexer.options = options
        return try lexer.process(stopOn: nil).words
    }

    /// Expands one word and reports which variables were looked up and found or not found.
    public func expandWithMatches(
        _ word: String, lookup: (String) -> String?
    ) throws(ExpansionError) -> (text: String, matched: Set<String>, unmatched: Set<String>) {
        try withoutActuallyEscaping(lookup) { (lookup) throws(ExpansionError) in
            var lexer = Lexer(word, escape: escapeToken, lookup: lookup)
            let text = try lexer.process(stopOn: nil).text
            return (text, lexer.matched, lexer.unmatched.subtracting(lexer.matched))
        }
    }
}

/// An expansion failure: a syntax error or a `${VAR?message}` / `${VAR:?message}` that fired.
public struct ExpansionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var word: String

    public init(_ message: String, word: String) {
        self.message = message
        self.word = word
    }

    public var description: String { "\(message) (in '\(word)')" }
}

/// Collects words the way BuildKit's wordsStruct does.
private struct WordCollector {
    var word = ""
    var words: [String] = []
    var inWord = false

    mutating func addChar(_ c: Unicode.Scalar) {
        if c.properties.isWhitespace {
            if inWord && !word.isEmpty {
                words.append(word)
                word = ""
                inWord = false
            }
        } else {
            addRawChar(c)
        }
    }

    mutating func addRawChar(_ c: Unicode.Scalar) {
        word.unicodeScalars.append(c)
        inWord = true
    }

    mutating func addString(_ s: String) {
        for c in s.unicodeScalars { addChar(c) }
    }

    mutating func addRawString(_ s: String) {
        word += s
        inWord = true
    }

    mutating func finish() -> [String] {
        if !word.isEmpty {
            words.append(word)
            word = ""
            inWord = false
        }
        return words
    }
}

/// Reads the word as Unicode scalars, as BuildKit's lexer reads runes: a combining mark after a
/// quote, `$` or an escape does not hide it (as a Swift `Character`, the pair would be one).
private struct Lexer {
    let characters: [Unicode.Scalar]
    let source: String
    let escape: Unicode.Scalar
    let lookup: (String) -> String?
    var position = 0
    var matched = Set<String>()
    var unmatched = Set<String>()
    var options = ShellExpander.Options()

    init(_ word: String, escape: Character, lookup: @escaping (String) -> String?) {
        characters = Array(word.unicodeScalars)
        source = word
        self.escape = escape.unicodeScalars.first ?? "\\"
        self.lookup = lookup
    }

    func peek() -> Unicode.Scalar? { position < characters.count ? characters[position] : nil }

    mutating func next() -> Unicode.Scalar? {
        guard position < characters.count else { return nil }
        defer { position += 1 }
        return characters[position]
    }

    func error(_ message: String) -> ExpansionError { ExpansionError(message, word: source) }

    mutating func environment(_ name: String) -> String? {
        // Positional and special parameters are always empty, like BuildKit.
        if name.unicodeScalars.first.map({ Self.isDigit($0) || Self.isSpecialParameter($0) }) ?? false { return nil }
        if let value = lookup(name) {
            matched.insert(name)
            return value
        }
        unmatched.insert(name)
        return nil
    }

    /// Go's unicode.IsDigit: decimal digits of any script.
    static func isDigit(_ c: Unicode.Scalar) -> Bool { c.properties.generalCategory == .decimalNumber }

    /// Go's unicode.IsLetter: the letter categories.
    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isSpecialParameter(_ c: Unicode.Scalar) -> Bool { "@*#?-$!".unicodeScalars.contains(c) }

    mutating func process(stopOn stop: Unicode.Scalar?) throws(ExpansionError) -> (text: String, words: [String]) {
        var result = ""
        var words = WordCollector()
        while let c = peek() {
            if let stop, c == stop {
                _ = next()
                return (result, words.finish())
            }
            switch c {
            case "$":
                let value = try dollar()
                result += value
                words.addString(value)
            case "'":
                let value = try singleQuoted()
                result += value
                words.addRawString(value)
            case "\"":
                let value = try doubleQuoted()
                result += value
                words.addRawString(value)
            default:
                var ch = next()!
                if ch == escape {
                    if options.rawEscapes {
                        words.addRawChar(ch)
                        result.unicodeScalars.append(ch)
                    }
                    // An escape makes the next character literal; a trailing one is dropped.
                    guard let escaped = next() else { break }
                    ch = escaped
                    words.addRawChar(ch)
                } else {
                    words.addChar(ch)
                }
                result.unicodeScalars.append(ch)
            }
        }
        if let stop {
            throw error("unexpected end of statement while looking for matching \(stop)")
        }
        return (result, words.finish())
    }

    mutating func singleQuoted() throws(ExpansionError) -> String {
        _ = next()
        var result = options.rawQuotes ? "'" : ""
        while true {
            guard let c = next() else {
                throw error("unexpected end of statement while looking for matching single-quote")
            }
            if c == "'" { return options.rawQuotes ? result + "'" : result }
            result.unicodeScalars.append(c)
        }
    }

    mutating func doubleQuoted() throws(ExpansionError) -> String {
        _ = next()
        var result = options.rawQuotes ? "\"" : ""
        while true {
            guard let c = peek() else {
                throw error("unexpected end of statement while looking for matching double-quote")
            }
            if c == "\"" {
                _ = next()
                return options.rawQuotes ? result + "\"" : result
            }
            if c == "$" {
                result += try dollar()
                continue
            }
            var ch = next()!
            if ch == escape {
                guard let following = peek() else { continue }  // a trailing escape is ignored
                if following == "\"" || following == "$" || following == escape {
                    if options.rawEscapes { result.unicodeScalars.append(ch) }
                    ch = next()!
                }
            }
            result.unicodeScalars.append(ch)
        }
    }

    mutating func name() -> String {
        var name = String.UnicodeScalarView()
        while let c = peek() {
            if name.isEmpty && Self.isDigit(c) {
                while let d = peek(), Self.isDigit(d) {
                    name.append(d)
                    _ = next()
                }
                return String(name)
            }
            if name.isEmpty && Self.isSpecialParameter(c) {
                _ = next()
                return String(c)
            }
            guard Self.isLetter(c) || Self.isDigit(c) || c == "_" else { break }
            name.append(c)
            _ = next()
        }
        return String(name)
    }

    mutating func dollar() throws(ExpansionError) -> String {
        _ = next()  // $
        guard peek() == "{" else {
            let name = name()
            if name.isEmpty { return "$" }
            if let value = environment(name) { return value }
            return options.skipUnset ? "$" + name : ""
        }
        _ = next()  // {
        switch peek() {
        case nil: throw error("syntax error: missing '}'")
        case "{", "}", ":": throw error("syntax error: bad substitution")
        default: break
        }
        let name = name()
        guard let op = next() else { throw error("syntax error: missing '}'") }
        switch op {
        case "}":
            if let value = environment(name) { return value }
            return options.skipUnset ? "${\(name)}" : ""
        case "?":
            let word = try operand()
            guard let value = environment(name) else {
                throw error("\(name): \(word.isEmpty ? "is not allowed to be unset" : word)")
            }
            return value
        case ":":
            guard let modifier = next() else { throw error("syntax error: missing '}'") }
            let word = try operand()
            let value = environment(name)
            switch modifier {
            case "+": return (value ?? "").isEmpty ? "" : word
            case "-": return (value ?? "").isEmpty ? word : value ?? ""
            case "?":
                guard let value else {
                    throw error("\(name): \(word.isEmpty ? "is not allowed to be unset" : word)")
                }
                guard !value.isEmpty else {
                    throw error("\(name): \(word.isEmpty ? "is not allowed to be empty" : word)")
                }
                return value
            default:
                throw error("unsupported modifier (\(modifier)) in substitution")
            }
        case "+":
            let word = try operand()
            return environment(name) == nil ? "" : word
        case "-":
            let word = try operand()
            return environment(name) ?? word
        case "#", "%":
            var longest = false
            if peek() == op {
                _ = next()
                longest = true
            }
            // Patterns keep their escapes: `\*` is a literal star for the glob.
            let pattern = try operand(rawEscapes: true)
            let value = environment(name) ?? ""
            return op == "#"
                ? Glob.removePrefix(pattern, from: value, longest: longest)
                : Glob.removeSuffix(pattern, from: value, longest: longest)
        case "/":
            var all = false
            if peek() == "/" {
                _ = next()
                all = true
            }
            guard let pattern = try word(until: "/", rawEscapes: true) else {
                throw error("syntax error: missing '/' in ${}")
            }
            let replacement = try operand(rawEscapes: true)
            let value = environment(name) ?? ""
            return Glob.replace(pattern, in: value, with: replacement, all: all)
        default:
            throw error("syntax error: bad substitution")
        }
    }

    /// The word after an operator, up to the closing brace (nested expansions allowed). With
    /// `rawEscapes` escape characters stay in the word (glob patterns and replacements).
    mutating func operand(rawEscapes: Bool = false) throws(ExpansionError) -> String {
        guard let word = try word(until: "}", rawEscapes: rawEscapes) else {
            throw error("syntax error: missing '}'")
        }
        return word
    }

    /// The word up to `terminator`, or nil when the input ends first.
    mutating func word(until terminator: Unicode.Scalar, rawEscapes: Bool) throws(ExpansionError) -> String? {
        var result = ""
        while let c = peek() {
            if c == terminator {
                _ = next()
                return result
            }
            switch c {
            case "$": result += try dollar()
            case "'": result += try singleQuoted()
            case "\"": result += try doubleQuoted()
            default:
                var ch = next()!
                if ch == escape {
                    if rawEscapes { result.unicodeScalars.append(ch) }
                    guard let escaped = next() else { break }
                    ch = escaped
                }
                result.unicodeScalars.append(ch)
            }
        }
        return nil
    }
}

/// Shell glob patterns (`*`, `?`, `[…]`, `\x`) for the `#`, `%` and `/` operators.
enum Glob {
    /// Whether `text` matches the shell pattern (`*`, `?`, `[...]`, `\\x`) as a whole.
    ///
    /// Every token but `*` matches exactly one character, so only the most recent `*` ever needs
    /// to take one more character when the rest fails: a single backtrack point keeps the match
    /// O(pattern × text) whatever the pattern (`${v%*********x}` used to take exponential time).
    static func matches(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Bool {
        var p = 0
        var t = 0
        var star = -1  // the pattern index just after the last `*`, or -1
        var starText = 0  // where in the text that `*`'s match currently ends
        while t < text.count {
            if p < pattern.count {
                var next = -1  // the pattern index after a token that matches text[t]
                switch pattern[p] {
                case "*":
                    star = p + 1
                    starText = t
                    p += 1
                    continue
                case "?":
                    next = p + 1
                case "[":
                    if let (ok, end) = bracket(pattern, p, text[t]) {
                        if ok { next = end }
                    } else if text[t] == "[" {
                        next = p + 1
                    }
                case "\\" where p + 1 < pattern.count:
                    if pattern[p + 1] == text[t] { next = p + 2 }
                default:
                    if pattern[p] == text[t] { next = p + 1 }
                }
                if next >= 0 {
                    p = next
                    t += 1
                    continue
                }
            }
            guard star >= 0 else { return false }
            // The last `*` takes one more character; retry the rest after it.
            starText += 1
            t = starText
            p = star
        }
        while p < pattern.count && pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }

    /// A bracket expression at `start`: whether it matches `c`, and the index after its `]`; nil
    /// when it is not closed (then `[` is an ordinary character).
    private static func bracket(_ pattern: [Unicode.Scalar], _ start: Int, _ c: Unicode.Scalar) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < pattern.count && (pattern[i] == "!" || pattern[i] == "^") {
            negate = true
            i += 1
        }
        var found = false
        var first = true
        while i < pattern.count && (pattern[i] != "]" || first) {
            first = false
            if i + 2 < pattern.count && pattern[i + 1] == "-" && pattern[i + 2] != "]" {
                if pattern[i] <= c && c <= pattern[i + 2] { found = true }
                i += 3
            } else {
                if pattern[i] == c { found = true }
                i += 1
            }
        }
        guard i < pattern.count else { return nil }
        return (found != negate, i + 1)
    }

    static func removePrefix(_ pattern: String, from value: String, longest: Bool) -> String {
        let p = Array(pattern.unicodeScalars)
        let v = Array(value.unicodeScalars)
        let range = longest ? Array((0...v.count).reversed()) : Array(0...v.count)
        for i in range where matches(p, Array(v[0..<i])) {
            return LineParsers.string(v[i...])
        }
        return value
    }

    static func removeSuffix(_ pattern: String, from value: String, longest: Bool) -> String {
        let p = Array(pattern.unicodeScalars)
        let v = Array(value.unicodeScalars)
        let range = longest ? Array(0...v.count) : Array((0...v.count).reversed())
        for i in range where matches(p, Array(v[i...])) {
            return LineParsers.string(v[..<i])
        }
        return value
    }

    static func replace(_ pattern: String, in value: String, with replacement: String, all: Bool) -> String {
        let p = Array(pattern.unicodeScalars)
        let v = Array(value.unicodeScalars)
        if p.isEmpty {
            // An empty pattern matches the empty string: before the value, or (all) between
            // every character, as Go's regexp replacement does.
            return all ? replacement + v.map { String($0) + replacement }.joined() : replacement + value
        }
        var result = ""
        var i = 0
        var replaced = false
        while i < v.count {
            if !replaced || all {
                var end: Int?
                var j = v.count
                while j > i {
                    if matches(p, Array(v[i..<j])) {
                        end = j
                        break
                    }
                    j -= 1
                }
                if let end {
                    result += replacement
                    i = end
                    replaced = true
                    continue
                }
            }
            result.unicodeScalars.append(v[i])
            i += 1
        }
        return result
    }
}
