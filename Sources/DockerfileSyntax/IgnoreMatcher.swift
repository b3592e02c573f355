import Foundation

/// `.dockerignore` matching with moby/patternmatcher's semantics, as BuildKit uses it: `*` and
/// `?` stay inside one path component, `**` spans any number of them, `[...]` classes, `\`
/// escapes, `!` exceptions (the last matching pattern wins), and a pattern that matches a parent
/// directory excludes everything under it.
public struct IgnoreMatcher: Sendable {
    struct Pattern: Sendable {
        var exclusion: Bool
        var cleaned: String
        var tokens: [Token]
        var components: [String]
    }

    /// Patterns and paths are matched as Unicode scalars, as Go matches runes (a Swift `Character`
    /// would make `e` + U+0301 one character, and treat it as equal to a precomposed `é`).
    enum Token: Sendable, Equatable {
        case literal(Unicode.Scalar)
        case star  // [^/]*
        case question  // [^/]
        case anyDirectories  // (.*/)?
        case anyTail  // .*
        case characterClass(negated: Bool, items: [ClassItem])
    }

    enum ClassItem: Sendable, Equatable {
        case character(Unicode.Scalar)
        case range(Unicode.Scalar, Unicode.Scalar)
    }

    let patterns: [Pattern]

    /// True when there is nothing to exclude.
    public var isEmpty: Bool { patterns.isEmpty }

    public init(patterns list: [String]) throws(IgnorePatternError) {
        var patterns: [Pattern] = []
        for raw in list {
            var text = raw.trimming(.whitespaces)
            if text.isEmpty { continue }
            var exclusion = false
            if text.startsWithScalar("!") {
                text = text.droppingFirstScalar().trimming(.whitespaces)
                guard !text.isEmpty else {
                    throw IgnorePatternError(pattern: raw, message: "illegal exclusion pattern: \"!\"")
                }
                exclusion = true
            }
            text = Self.clean(text)
            do {
                _ = try GoPathMatch.match(text, ".")
            } catch {
                throw IgnorePatternError(pattern: raw, message: "syntax error in pattern")
            }
            patterns.append(
                Pattern(
                    exclusion: exclusion, cleaned: text, tokens: Self.compile(text),
                    components: text.scalarComponents(separatedBy: "/", omittingEmpty: true)))
        }
        self.patterns = patterns
    }

    /// `.dockerignore` text → patterns: comments and blank lines dropped, lines trimmed, a
    /// leading `/` removed, paths cleaned, `!` kept.
    public static func patterns(fromIgnoreFile text: String) -> [String] {
        var result: [String] = []
        var first = true
        // Lines end at "\n" (as scalars: "\r\n" is a single Swift Character, which a split on
        // "\n" would not see); a "\r" before it goes with the trimming below.
        for rawLine in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = Substring(Substring.UnicodeScalarView(rawLine))
            if first {
                if line.startsWithScalar("\u{FEFF}") { line = Substring(line.droppingFirstScalar()) }
                first = false
            }
            var pattern = line.trimming(.whitespacesAndNewlines)
            if pattern.isEmpty || pattern.startsWithScalar("#") { continue }
            var invert = false
            if pattern.startsWithScalar("!") {
                invert = true
                pattern = pattern.droppingFirstScalar().trimming(.whitespaces)
            }
            if !pattern.isEmpty {
                pattern = clean(pattern)
                if pattern.unicodeScalars.count > 1 && pattern.startsWithScalar("/") {
                    pattern = pattern.droppingFirstScalar()
                }
            }
            result.append(invert ? "!" + pattern : pattern)
        }
        return result
    }

    /// MatchesOrParentMatches with its error: a pattern whose character class has a reversed
    /// range (`[z-a]`) is accepted by filepath.Match's check but cannot be matched.
    public func matchesOrParentMatches(_ relativePath: String) throws(IgnorePatternError) -> Bool {
        try validate()
        return isExcluded(relativePath)
    }

    /// Throws for patterns that cannot be used for matching (reversed class ranges).
    public func validate() throws(IgnorePatternError) {
        for pattern in patterns {
            for token in pattern.tokens {
                if case .characterClass(_, let items) = token {
                    for case .range(let low, let high) in items where low > high {
                        throw IgnorePatternError(
                            pattern: pattern.cleaned, message: "invalid character class range \(low)-\(high)")
                    }
                }
            }
        }
    }

    /// MatchesOrParentMatches: whether `relativePath` (context-relative, `/`-separated) is excluded.
    public func isExcluded(_ relativePath: String) -> Bool {
        let path = relativePath
        let parents = Self.parentDirectories(path)
        var matched = false
        for pattern in patterns {
            if pattern.exclusion != matched { continue }
            var match = Self.matches(pattern.tokens, path)
            if !match {
                for parent in parents where Self.matches(pattern.tokens, parent) {
                    match = true
                    break
                }
            }
            if match { matched = !pattern.exclusion }
        }
        return matched
    }

    /// The deprecated single-pattern check (`Matches(path, [pattern])`): the path itself or its
    /// immediate parent directory.
    public static func matches(_ path: String, patterns list: [String]) throws(IgnorePatternError) -> Bool {
        let matcher = try IgnoreMatcher(patterns: list)
        try matcher.validate()
        let file = clean(path)
        if file == "." { return false }
        let parentComponents = Array(file.scalarComponents(separatedBy: "/", omittingEmpty: true).dropLast())
        var matched = false
        for pattern in matcher.patterns {
            if pattern.exclusion != matched { continue }
            var match = Self.matches(pattern.tokens, file)
            if !match && !parentComponents.isEmpty && pattern.components.count <= parentComponents.count {
                match = Self.matches(
                    pattern.tokens, parentComponents[0..<pattern.components.count].joined(separator: "/"))
            }
            if match { matched = !pattern.exclusion }
        }
        return matched
    }

    /// True when `directory` is excluded and no exception could re-include anything under it.
    public func canSkipDirectory(_ directory: String) -> Bool {
        guard isExcluded(directory) else { return false }
        let components = directory.scalarComponents(separatedBy: "/", omittingEmpty: true)
        for pattern in patterns where pattern.exclusion {
            if pattern.cleaned.containsScalars("**") { return false }
            guard pattern.components.count > components.count else { continue }
            var prefixMatches = true
            for (index, component) in components.enumerated() {
                let tokens = Self.compile(pattern.components[index])
                if !Self.matches(tokens, component) {
                    prefixMatches = false
                    break
                }
            }
            if prefixMatches { return false }
        }
        return true
    }

    // MARK: - Compilation and matching

    /// The parent directories of `path` from the top, as Go's filepath.Dir and Split give them
    /// (so `a/b/c/` has parents `a`, `a/b` and `a/b/c`).
    static func parentDirectories(_ path: String) -> [String] {
        let scalars = path.unicodeScalars
        guard let slash = scalars.lastIndex(of: "/") else { return [] }
        let directory = clean(String(scalars[..<slash]))
        guard directory != "." else { return [] }
        let components = directory.scalarComponents(separatedBy: "/", omittingEmpty: false)
        return (1...components.count).map { components[0..<$0].joined(separator: "/") }
    }

    /// Go's path.Clean.
    static func clean(_ path: String) -> String {
        if path.isEmpty { return "." }
        let rooted = path.startsWithScalar("/")
        var parts: [String] = []
        for component in path.scalarComponents(separatedBy: "/", omittingEmpty: true) {
            if component == "." { continue }
            if component == ".." {
                if let last = parts.last, last != ".." {
                    parts.removeLast()
                } else if !rooted {
                    parts.append(component)
                }
                continue
            }
            parts.append(component)
        }
        let joined = parts.joined(separator: "/")
        if rooted { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    static func compile(_ pattern: String) -> [Token] {
        let chars = Array(pattern.unicodeScalars)
        var tokens: [Token] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            switch c {
            case "*":
                if i + 1 < chars.count && chars[i + 1] == "*" {
                    i += 2
                    if i < chars.count && chars[i] == "/" { i += 1 }
                    tokens.append(i >= chars.count ? .anyTail : .anyDirectories)
                    continue
                }
                tokens.append(.star)
            case "?":
                tokens.append(.question)
            case "\\":
                if i + 1 < chars.count {
                    i += 1
                    tokens.append(.literal(chars[i]))
                } else {
                    tokens.append(.literal("\\"))
                }
            case "[":
                var j = i + 1
                var negated = false
                if j < chars.count && chars[j] == "^" {
                    negated = true
                    j += 1
                }
                var items: [ClassItem] = []
                var first = true
                while j < chars.count && (chars[j] != "]" || first) {
                    first = false
                    var low = chars[j]
                    if low == "\\" && j + 1 < chars.count {
                        j += 1
                        low = chars[j]
                    }
                    if j + 2 < chars.count && chars[j + 1] == "-" && chars[j + 2] != "]" {
                        var high = chars[j + 2]
                        j += 2
                        if high == "\\" && j + 1 < chars.count {
                            j += 1
                            high = chars[j]
                        }
                        items.append(.range(low, high))
                    } else {
                        items.append(.character(low))
                    }
                    j += 1
                }
                tokens.append(.characterClass(negated: negated, items: items))
                i = j
            default:
                tokens.append(.literal(c))
            }
            i += 1
        }
        return tokens
    }

    static func matches(_ tokens: [Token], _ path: String) -> Bool {
        let text = Array(path.unicodeScalars)
        var memo = [Int: Bool]()
        func match(_ t: Int, _ p: Int) -> Bool {
            let key = t * (text.count + 1) + p
            if let known = memo[key] { return known }
            let result: Bool
            if t == tokens.count {
                result = p == text.count
            } else {
                switch tokens[t] {
                case .literal(let c):
                    result = p < text.count && text[p] == c && match(t + 1, p + 1)
                case .question:
                    result = p < text.count && text[p] != "/" && match(t + 1, p + 1)
                case .star:
                    var k = p
                    var found = match(t + 1, k)
                    while !found && k < text.count && text[k] != "/" {
                        k += 1
                        found = match(t + 1, k)
                    }
                    result = found
                case .anyTail:
                    result = true
                case .anyDirectories:
                    // (.*/)? : nothing, or anything ending with a slash.
                    var found = match(t + 1, p)
                    var k = p
                    while !found && k < text.count {
                        if text[k] == "/" { found = match(t + 1, k + 1) }
                        k += 1
                    }
                    result = found
                case .characterClass(let negated, let items):
                    guard p < text.count else {
                        result = false
                        break
                    }
                    let c = text[p]
                    let inClass = items.contains { item in
                        switch item {
                        case .character(let x): x == c
                        case .range(let low, let high): low <= c && c <= high
                        }
                    }
                    result = inClass != negated && match(t + 1, p + 1)
                }
            }
            memo[key] = result
            return result
        }
        return match(0, 0)
    }
}

/// A malformed .dockerignore pattern.
public struct IgnorePatternError: Error, Sendable, Equatable, CustomStringConvertible {
    public var pattern: String
    public var message: String
    public var description: String { "\(message): \(pattern)" }
}
