import Foundation
import Testing

@testable import DockerfileSyntax

/// Runs every vector of BuildKit's corpus in ../shared/conformance/buildkit (see its README for
/// the formats) and prints one summary line.
///
/// Vectors left out of the totals, each for the reason given:
/// - envVarTest lines marked `W`: Windows-only (variable names are case-insensitive there).
/// - TestMatch cases whose pattern contains a backslash are kept (they are Unix semantics);
///   none is Windows-only, so nothing is left out there.
/// - patternmatcher TestCompile.json (21 cases): it checks the Go regular-expression text a
///   pattern compiles to, an implementation detail of Go; berth matches without regexps.
@Suite struct BuildKitConformanceTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/conformance/buildkit")
        .path

    /// P/T counters per set, filled by each part and printed at the end.
    struct Tally: CustomStringConvertible {
        var passed = 0
        var total = 0
        var failures: [String] = []
        mutating func check(_ ok: Bool, _ what: @autoclosure () -> String) {
            total += 1
            if ok { passed += 1 } else { failures.append(what()) }
        }
        var description: String { "\(passed)/\(total)" }
    }

    @Test func everyVectorPasses() throws {
        guard FileManager.default.fileExists(atPath: Self.corpus) else {
            print("conformance: skipped (../shared/conformance/buildkit not found)")
            return
        }
        let sets: [(String, Tally)] = [
            ("ast", try ast()), ("negative", try negative()), ("lines", try lines()), ("expansion", try expansion()),
            ("words", try words()), ("matches", try matches()), ("heredoc", try heredoc()),
            ("dockerignore", try dockerignore()),
        ]
        print("conformance: " + sets.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
        for (name, tally) in sets {
            #expect(tally.total > 0, "\(name): no vectors found")
            #expect(tally.failures.isEmpty, "\(name) failures:\n\(tally.failures.prefix(20).joined(separator: "\n"))")
        }
    }

    func read(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: Self.corpus + "/" + path)))
    }

    func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(read(path))) as? [String: Any] ?? [:]
    }

    func ast() throws -> Tally {
        var tally = Tally()
        let dir = "frontend/dockerfile/parser/testfiles"
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.corpus + "/" + dir).sorted() {
            let expected = String(decoding: try read("\(dir)/\(name)/result"), as: UTF8.self)
            do {
                let result = try Parser.parse(try read("\(dir)/\(name)/Dockerfile"), fileName: name)
                let dump = result.root.dump() + "\n"
                tally.check(dump == expected, "ast \(name):\n--- want\n\(expected)--- got\n\(dump)")
            } catch {
                tally.check(false, "ast \(name): \(error)")
            }
        }
        return tally
    }

    func negative() throws -> Tally {
        var tally = Tally()
        let dir = "frontend/dockerfile/parser/testfiles-negative"
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.corpus + "/" + dir).sorted() {
            let bytes = try read("\(dir)/\(name)/Dockerfile")
            tally.check((try? Parser.parse(bytes, fileName: name)) == nil, "negative \(name) was accepted")
        }
        return tally
    }

    func lines() throws -> Tally {
        var tally = Tally()
        let expected = try json("extracted/frontend/dockerfile/parser/testfile-line.expected.json")
        let result = try Parser.parse(
            try read("frontend/dockerfile/parser/testfile-line/Dockerfile"), fileName: "Dockerfile")
        let root = expected["root"] as? [Int] ?? []
        tally.check(
            [result.root.startLine, result.root.endLine] == root,
            "root lines \(result.root.startLine)-\(result.root.endLine), want \(root)")
        let children = expected["children"] as? [[Int]] ?? []
        tally.check(
            children.count == result.root.children.count,
            "child count \(result.root.children.count), want \(children.count)")
        for (child, want) in zip(result.root.children, children) {
            tally.check(
                [child.startLine, child.endLine] == want,
                "child lines \(child.startLine)-\(child.endLine), want \(want)")
        }
        return tally
    }

    func expansion() throws -> Tally {
        var tally = Tally()
        let env = ["PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""]
        let text = String(decoding: try read("frontend/dockerfile/shell/envVarTest"), as: UTF8.self)
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard fields.count == 3 else {
                tally.check(false, "malformed vector line: \(line)")
                continue
            }
            if fields[0] == "W" { continue }  // Windows-only
            let result = try? ShellExpander().expand(fields[1]) { env[$0] }
            if fields[2] == "error" {
                tally.check(result == nil, "expand \(fields[1]): want error, got \(result ?? "")")
            } else {
                tally.check(
                    result == fields[2],
                    "expand \(fields[1]): want '\(fields[2])', got \(result.map { "'\($0)'" } ?? "error")")
            }
        }
        return tally
    }

    func words() throws -> Tally {
        var tally = Tally()
        var env: [String: String] = [:]
        let text = String(decoding: try read("frontend/dockerfile/shell/wordsTest"), as: UTF8.self)
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            if line.hasPrefix("#") { continue }
            if line.hasPrefix("ENV ") {
                let assignment = line.dropFirst(4).drop { $0 == " " }
                if let eq = assignment.firstIndex(of: "=") {
                    env[String(assignment[..<eq])] = String(assignment[assignment.index(after: eq)...])
                }
                continue
            }
            guard let bar = line.firstIndex(of: "|") else { continue }
            let input = line[..<bar].trimmingCharacters(in: .whitespaces)
            let expected = String(line[line.index(after: bar)...].drop { $0 == " " })
            let result = try? ShellExpander().expandWords(input) { env[$0] }
            if expected == "error" {
                tally.check(result == nil, "words \(input): want error")
            } else {
                let want = expected.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                tally.check(result == want, "words \(input): want \(want), got \(result.map { "\($0)" } ?? "error")")
            }
        }
        return tally
    }

    func matches() throws -> Tally {
        var tally = Tally()
        let table = try json("extracted/frontend/dockerfile/shell/lex_test_ProcessWithMatches.json")
        let cases = (table["cases"] as? [[String: Any]] ?? []) + (table["extra"] as? [[String: Any]] ?? [])
        for vector in cases {
            let input = vector["input"] as? String ?? ""
            let env = vector["env"] as? [String: String] ?? [:]
            let result = try? ShellExpander().expandWithMatches(input) { env[$0] }
            if vector["error"] as? Bool == true {
                var ok = result == nil
                if let needle = vector["errorContains"] as? String {
                    do {
                        _ = try ShellExpander().expand(input) { env[$0] }
                        ok = false
                    } catch {
                        ok = ok && error.message.contains(needle)
                    }
                }
                tally.check(ok, "matches \(input): want error")
                continue
            }
            guard let result else {
                tally.check(false, "matches \(input): unexpected error")
                continue
            }
            var ok = result.text == vector["expected"] as? String
            if let matched = vector["matched"] as? [String] { ok = ok && Set(matched) == result.matched }
            if let unmatched = vector["unmatched"] as? [String] { ok = ok && Set(unmatched) == result.unmatched }
            tally.check(
                ok,
                "matches \(input): got '\(result.text)' matched \(result.matched.sorted()) unmatched \(result.unmatched.sorted()), want \(vector)"
            )
        }
        return tally
    }

    func heredoc() throws -> Tally {
        var tally = Tally()
        let base = "extracted/frontend/dockerfile/parser/heredoc"
        let result = try Parser.parse(try read(base + "/Dockerfile"), fileName: "Dockerfile")
        let expected = try json(base + "/expected.json")["expected"] as? [Any] ?? []
        for (index, want) in expected.enumerated() {
            let child = index + 1 < result.root.children.count ? result.root.children[index + 1] : nil
            let got = child?.heredocs ?? []
            let wantList = (want as? [[String: Any]] ?? []).map { item in
                ParsedHeredoc(
                    name: item["Name"] as? String ?? "", content: item["Content"] as? String ?? "",
                    expand: item["Expand"] as? Bool ?? false, chomp: item["Chomp"] as? Bool ?? false,
                    fileDescriptor: item["FileDescriptor"] as? Int ?? 0)
            }
            tally.check(got == wantList, "heredoc child \(index + 1): want \(wantList), got \(got)")
        }
        let helpers = try json(base + "/helpers.json")
        let parse = helpers["parseHeredoc"] as? [String: [String]] ?? [:]
        for word in parse["valid"] ?? [] {
            let heredoc = (try? HeredocParsing.parse(word)) ?? nil
            tally.check(heredoc?.name == "EOF", "parseHeredoc \(word): want EOF, got \(String(describing: heredoc))")
        }
        for word in parse["invalid"] ?? [] {
            var threw = false
            do { _ = try HeredocParsing.parse(word) } catch { threw = true }
            tally.check(threw, "parseHeredoc \(word): want error")
        }
        for word in parse["notHeredoc"] ?? [] {
            var noHeredoc = false
            do { noHeredoc = try HeredocParsing.parse(word) == nil } catch { noHeredoc = false }
            tally.check(noHeredoc, "parseHeredoc \(word): want no heredoc")
        }
        for item in helpers["heredocsFromLine"] as? [[String: Any]] ?? [] {
            let line = item["line"] as? String ?? ""
            let names = (try? HeredocParsing.heredocs(inLine: line).map(\.name)) ?? ["<error>"]
            tally.check(names == item["names"] as? [String] ?? [], "heredocsFromLine \(line): got \(names)")
        }
        if let form = helpers["jsonForm"] as? [String: Any], let text = form["dockerfile"] as? String {
            let parsed = try Parser.parse(Array(text.utf8), fileName: "Dockerfile")
            for index in form["childrenWithoutHeredocs"] as? [Int] ?? [] {
                tally.check(
                    index < parsed.root.children.count && parsed.root.children[index].heredocs.isEmpty,
                    "json form child \(index) has heredocs")
            }
        }
        for item in helpers["chomp"] as? [[String: String]] ?? [] {
            let chomped = InstructionBuilder.heredoc(
                ParsedHeredoc(name: "X", content: item["input"] ?? "", expand: true, chomp: true, fileDescriptor: 0))
            tally.check(chomped.content == item["expected"], "chomp \(item)")
        }
        return tally
    }

    func dockerignore() throws -> Tally {
        var tally = Tally()
        let base = "patternmatcher/extracted"
        for vector in try json(base + "/TestMatches.json")["cases"] as? [[String: Any]] ?? [] {
            let patterns = vector["patterns"] as? [String] ?? []
            let path = vector["path"] as? String ?? ""
            let matcher = try? IgnoreMatcher(patterns: patterns)
            let result = try? matcher?.matchesOrParentMatches(path)
            tally.check(
                result == vector["excluded"] as? Bool,
                "TestMatches \(patterns) \(path): got \(String(describing: result))")
        }
        for vector in try json(base + "/TestMatch.json")["cases"] as? [[String: Any]] ?? [] {
            let pattern = vector["pattern"] as? String ?? ""
            let path = vector["path"] as? String ?? ""
            let result = try? IgnoreMatcher.matches(path, patterns: [pattern])
            if vector["error"] is String {
                tally.check(
                    result == nil, "TestMatch \(pattern) \(path): want error, got \(String(describing: result))")
            } else {
                tally.check(
                    result == vector["match"] as? Bool,
                    "TestMatch \(pattern) \(path): got \(String(describing: result))")
            }
        }
        let misc = try json(base + "/misc.json")
        for vector in misc["matches"] as? [[String: Any]] ?? [] {
            let patterns = vector["patterns"] as? [String] ?? []
            let path = vector["path"] as? String ?? ""
            let result: Bool?
            if vector["function"] as? String == "MatchesOrParentMatches" {
                let matcher = try? IgnoreMatcher(patterns: patterns)
                tally.check((matcher != nil) == !(vector["newError"] as? Bool ?? true), "misc New \(patterns)")
                result = try? matcher?.matchesOrParentMatches(path)
                // Called twice on purpose: the second call must behave the same.
                tally.check((try? matcher?.matchesOrParentMatches(path)) == result, "misc repeated call \(patterns)")
            } else {
                result = try? IgnoreMatcher.matches(path, patterns: patterns)
            }
            if vector["error"] as? Bool == true {
                tally.check(result == nil, "misc \(patterns) \(path): want error")
            } else {
                tally.check(
                    result == vector["excluded"] as? Bool, "misc \(patterns) \(path): got \(String(describing: result))"
                )
            }
        }
        for vector in misc["clean"] as? [[String: Any]] ?? [] {
            let patterns = vector["patterns"] as? [String] ?? []
            let matcher = try? IgnoreMatcher(patterns: patterns)
            if vector["newError"] as? Bool == true {
                tally.check(matcher == nil, "clean \(patterns): want error")
                continue
            }
            if let count = vector["cleanedCount"] as? Int {
                tally.check(matcher?.patterns.count == count, "clean \(patterns) count")
            }
            if let exclusions = vector["hasExclusions"] as? Bool {
                tally.check(matcher?.patterns.contains { $0.exclusion } == exclusions, "clean \(patterns) exclusions")
            }
        }
        for vector in try json(base + "/ignorefile_TestReadAll.json")["cases"] as? [[String: Any]] ?? [] {
            let input = vector["input"] as? String ?? ""
            let patterns = IgnoreMatcher.patterns(fromIgnoreFile: input)
            tally.check(
                patterns == vector["expected"] as? [String] ?? [], "ReadAll \(input.debugDescription): got \(patterns)")
        }
        return tally
    }
}
