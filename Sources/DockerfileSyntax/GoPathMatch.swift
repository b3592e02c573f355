/// Go's `path/filepath.Match`, ported for its exact error behaviour: patternmatcher validates
/// each .dockerignore pattern by matching it against "." and reporting the error that produces.
enum GoPathMatch {
    struct BadPattern: Error {}

    static func match(_ pattern: String, _ name: String) throws(BadPattern) -> Bool {
        var pattern = Array(pattern.unicodeScalars)[...]
        var name = Array(name.unicodeScalars)[...]
        outer: while !pattern.isEmpty {
            let (star, chunk, rest) = scanChunk(pattern)
            pattern = rest
            if star && chunk.isEmpty {
                return !name.contains("/")
            }
            let (t, ok) = try matchChunk(chunk, name)
            if ok && (t.isEmpty || !pattern.isEmpty) {
                name = t
                continue
            }
            if star {
                var i = name.startIndex
                while i < name.endIndex && name[i] != "/" {
                    let (t, ok) = try matchChunk(chunk, name[(i + 1)...])
                    if ok {
                        if pattern.isEmpty && !t.isEmpty {
                            i += 1
                            continue
                        }
                        name = t
                        continue outer
                    }
                    i += 1
                }
            }
            // Before returning false, check that the rest of the pattern is well formed.
            while !pattern.isEmpty {
                let (_, chunk, rest) = scanChunk(pattern)
                pattern = rest
                _ = try matchChunk(chunk, [][...])
            }
            return false
        }
        return name.isEmpty
    }

    typealias Scalars = ArraySlice<Unicode.Scalar>

    static func scanChunk(_ input: Scalars) -> (Bool, Scalars, Scalars) {
        var pattern = input
        var star = false
        while pattern.first == "*" {
            pattern = pattern.dropFirst()
            star = true
        }
        var inRange = false
        var i = pattern.startIndex
        scan: while i < pattern.endIndex {
            switch pattern[i] {
            case "\\":
                if i + 1 < pattern.endIndex { i += 1 }
            case "[": inRange = true
            case "]": inRange = false
            case "*": if !inRange { break scan }
            default: break
            }
            i += 1
        }
        return (star, pattern[pattern.startIndex..<i], pattern[i...])
    }

    static func matchChunk(_ input: Scalars, _ text: Scalars) throws(BadPattern) -> (Scalars, Bool) {
        var chunk = input
        var s = text
        var failed = false
        while let c = chunk.first {
            if !failed && s.isEmpty { failed = true }
            switch c {
            case "[":
                var r: Unicode.Scalar = "\0"
                if !failed {
                    r = s.first!
                    s = s.dropFirst()
                }
                chunk = chunk.dropFirst()
                var negated = false
                if chunk.first == "^" {
                    negated = true
                    chunk = chunk.dropFirst()
                }
                var matched = false
                var ranges = 0
                while true {
                    if chunk.first == "]" && ranges > 0 {
                        chunk = chunk.dropFirst()
                        break
                    }
                    let lo = try escaped(&chunk)
                    var hi = lo
                    if chunk.first == "-" {
                        chunk = chunk.dropFirst()
                        hi = try escaped(&chunk)
                    }
                    if lo <= r && r <= hi { matched = true }
                    ranges += 1
                }
                if matched == negated { failed = true }
            case "?":
                if !failed {
                    if s.first == "/" { failed = true }
                    s = s.dropFirst()
                }
                chunk = chunk.dropFirst()
            default:
                var literal = c
                if c == "\\" {
                    chunk = chunk.dropFirst()
                    guard let next = chunk.first else { throw BadPattern() }
                    literal = next
                }
                if !failed {
                    if literal != s.first { failed = true }
                    s = s.dropFirst()
                }
                chunk = chunk.dropFirst()
            }
        }
        return failed ? ([][...], false) : (s, true)
    }

    /// A possibly escaped character of a class; the rest of the chunk must not be empty after it.
    static func escaped(_ chunk: inout Scalars) throws(BadPattern) -> Unicode.Scalar {
        guard let first = chunk.first, first != "-", first != "]" else { throw BadPattern() }
        if first == "\\" {
            chunk = chunk.dropFirst()
            guard !chunk.isEmpty else { throw BadPattern() }
        }
        let r = chunk.first!
        chunk = chunk.dropFirst()
        if chunk.isEmpty { throw BadPattern() }
        return r
    }
}
