/// Operations on Unicode scalars, as Go's byte- and rune-based string functions see a string.
/// Swift's `Character` is a grapheme cluster: `"\r\n"` is one, `"/"` followed by a combining
/// mark is one, and a precomposed `é` equals `e` + U+0301; none of that holds in Go.
extension StringProtocol {
    /// Whether the first scalar is `scalar`.
    func startsWithScalar(_ scalar: Unicode.Scalar) -> Bool { unicodeScalars.first == scalar }

    /// The string without its first scalar.
    func droppingFirstScalar() -> String { String(String.UnicodeScalarView(unicodeScalars.dropFirst())) }

    /// The pieces between occurrences of `separator` (Go's strings.Split, or strings.Fields-like
    /// when `omittingEmpty`).
    func scalarComponents(separatedBy separator: Unicode.Scalar, omittingEmpty: Bool) -> [String] {
        unicodeScalars.split(separator: separator, omittingEmptySubsequences: omittingEmpty).map {
            String(String.UnicodeScalarView($0))
        }
    }

    /// Whether `needle` occurs in the string, comparing scalars (Go's strings.Contains).
    func containsScalars(_ needle: String) -> Bool {
        let text = Array(unicodeScalars)
        let pattern = Array(needle.unicodeScalars)
        guard !pattern.isEmpty else { return true }
        guard text.count >= pattern.count else { return false }
        for start in 0...(text.count - pattern.count) where text[start..<(start + pattern.count)].elementsEqual(pattern)
        {
            return true
        }
        return false
    }
}
