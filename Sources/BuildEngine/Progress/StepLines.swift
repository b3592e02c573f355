/// Output bytes of the running steps cut into whole lines: what a progress sink prints line by
/// line keeps each step's unfinished last line until more bytes or the step's end arrive.
struct StepLines {
    private var partial: [Int: [UInt8]] = [:]

    /// Adds `bytes` to `step`'s output; returns the lines they completed.
    mutating func append(_ bytes: [UInt8], step: Int) -> [String] {
        var buffer = partial[step] ?? []
        buffer.append(contentsOf: bytes)
        var lines: [String] = []
        while let newline = buffer.firstIndex(of: 0x0a) {
            lines.append(String(decoding: buffer[..<newline], as: UTF8.self))
            buffer.removeSubrange(...newline)
        }
        partial[step] = buffer
        return lines
    }

    /// The step's unfinished last line, if any, removed.
    mutating func finish(step: Int) -> String? {
        guard let rest = partial.removeValue(forKey: step), !rest.isEmpty else { return nil }
        return String(decoding: rest, as: UTF8.self)
    }
}
