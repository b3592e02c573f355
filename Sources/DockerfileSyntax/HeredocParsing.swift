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
        let rest = word.drop { $0.isASCII && $0.isNumber }
        return rest == "<<" || rest == "<<-"
    }

    /// A heredoc from one word such as `<<EOF`, `<<-"EOF"` or `3<<EOF`; nil when the word is not one.
    static func parse(_ word: String) throws(Parser.LineError) -> ParsedHeredoc? {
        guard word.hasPrefix("<<") || word.first?.isNumber == true else { return nil }
        // ^(\d*)<<(-?)([^<]*)$
        let digits = word.prefix { $0.isASCII && $0.isNumber }
        var rest = word.dropFirst(digits.count)
        guard rest.hasPrefix("<<") else { return nil }
        rest = rest.dropFirst(2)
        var chomp = false
        if rest.first == "-" {
            chomp = true
            rest = rest.dropFirst()
        }
        rest = rest.drop { $0 == " " || $0 == "\t" }
        guard !rest.contains("<"), !rest.isEmpty else { return nil }
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
        func quotes(_ s: String) -> Int { s.filter { $0 == "'" || $0 == "\"" }.count }
        return ParsedHeredoc(
            name: plain[0], expand: quotes(plain[0]) == quotes(raw[0]), chomp: chomp,
            fileDescriptor: Int(digits) ?? 0)
    }
}
