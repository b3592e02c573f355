/// Finding heredocs in RUN, COPY and ADD lines, as BuildKit does.
enum HeredocParsing {
    /// The heredocs a line opens, in order.
    static func heredocs(inLine line: String) throws(Parser.LineError) -> [ParsedHeredoc] {
        let words: [String]
        do {
            words = try ShellExpander(escapeToken: "\\").expandWords(
                line, options: .init(rawQuotes: true, rawEscapes: true, skipUnset: true))
        } catch {
            return []
        }
        var result: [ParsedHeredoc] = []
        var index = 0
        while index < words.count {
            var word = words[index]
            // `<< EOF` and `<<- EOF`: the operator and the delimiter may be separate words.
            if index + 1 < words.count, isBareOperator(word) {
                word += " " + words[index + 1]
                index += 1
            }
            if let heredoc = try parse(word) { result.append(heredoc) }
            index += 1
        }
        return result
    }

    /// `<<`, `<<-`, optionally after a descriptor number, with nothing after it.
    static func isBareOperator(_ word: String) -> Bool {
        let rest = String(String.UnicodeScalarView(word.unicodeScalars.drop { ("0"..."9").contains($0) }))
        return rest == "<<" || rest == "<<-"
    }

    /// A heredoc from one word such as `<<EOF`, `<<-"EOF"` or `3<<EOF`; nil when the word is not one.
    static func parse(_ word: String) throws(Parser.LineError) -> ParsedHeredoc? {
        // ^(\d*)<<(-?)([^<]*)$, over scalars as Go's regexp reads runes.
        let scalars = word.unicodeScalars
        let digits = String(String.UnicodeScalarView(scalars.prefix { ("0"..."9").contains($0) }))
        var tail = scalars.dropFirst(digits.unicodeScalars.count)
        guard tail.starts(with: "<<".unicodeScalars) else { return nil }
        tail = tail.dropFirst(2)
        var chomp = false
        if tail.first == "-" {
            chomp = true
            tail = tail.dropFirst()
        }
        tail = tail.drop { $0 == " " || $0 == "\t" }
        guard !tail.contains("<"), !tail.isEmpty else { return nil }
        let rest = String(String.UnicodeScalarView(tail))
        let expander = ShellExpander(escapeToken: "\\")
        let plain: [String]
        let raw: [String]
        do {
            plain = try expander.expandWords(
                String(rest), options: .init(rawQuotes: false, rawEscapes: false, skipUnset: true))
            guard plain.count == 1 else { return nil }
            raw = try expander.expandWords(
                String(rest), options: .init(rawQuotes: true, rawEscapes: false, skipUnset: true))
        } catch {
            throw Parser.LineError(message: error.message)
        }
        guard raw.count == plain.count else {
            throw Parser.LineError(message: "internal lexing of heredoc produced inconsistent results: \(rest)")
        }
        func quotes(_ s: String) -> Int { s.unicodeScalars.filter { $0 == "'" || $0 == "\"" }.count }
        return ParsedHeredoc(
            name: plain[0], expand: quotes(plain[0]) == quotes(raw[0]), chomp: chomp,
            fileDescriptor: Int(digits) ?? 0)
    }
}
