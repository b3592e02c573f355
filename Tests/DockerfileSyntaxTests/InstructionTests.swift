import Testing

@testable import DockerfileSyntax

@Suite struct InstructionTests {
    @Test func everyInstructionBecomesATypedCommand() throws {
        let text = """
            # syntax=docker/dockerfile:1
            ARG BASE=busybox
            FROM --platform=linux/amd64 ${BASE} AS Builder
            RUN --mount=type=cache,target=/c --network=none echo hi
            RUN ["echo", "exec"]
            COPY --chown=app:app --chmod=644 --link a b /dst/
            ADD --checksum=sha256:abc https://example.com/x /x
            ENV A=1 B="two words"
            ENV LEGACY value with spaces
            LABEL k=v
            WORKDIR /w
            USER app
            EXPOSE 80 53/udp
            VOLUME ["/v"]
            STOPSIGNAL SIGINT
            HEALTHCHECK --interval=30s --retries=3 CMD curl -f http://localhost/
            SHELL ["/bin/bash", "-c"]
            ONBUILD RUN echo child
            MAINTAINER someone
            CMD echo done
            ENTRYPOINT ["/entry"]
            FROM builder
            HEALTHCHECK NONE
            """
        let dockerfile = try Dockerfile.parse(text, fileName: "Dockerfile")
        #expect(dockerfile.directives.syntax == "docker/dockerfile:1")
        #expect(dockerfile.globalArgs.first?.args == [ArgDeclaration(name: "BASE", defaultValue: "busybox")])
        #expect(dockerfile.stages.count == 2)
        let stage = dockerfile.stages[0]
        #expect(stage.name == "builder")
        #expect(stage.baseName == "${BASE}")
        #expect(stage.platform == "linux/amd64")
        #expect(stage.commands.count == 18)
        guard case .run(let run) = stage.commands[0] else {
            Issue.record("not RUN")
            return
        }
        #expect(run.command == .shell("echo hi"))
        #expect(run.mounts == ["type=cache,target=/c"])
        #expect(run.network == "none")
        #expect(run.info.location == SourceRange(startLine: 4, endLine: 4))
        guard case .run(let exec) = stage.commands[1] else {
            Issue.record("not RUN")
            return
        }
        #expect(exec.command == .exec(["echo", "exec"]))
        guard case .copy(let copy) = stage.commands[2] else {
            Issue.record("not COPY")
            return
        }
        #expect(copy.sources == [.path("a"), .path("b")])
        #expect(copy.destination == "/dst/")
        #expect(copy.chown == "app:app" && copy.chmod == "644" && copy.link)
        guard case .copy(let add) = stage.commands[3] else {
            Issue.record("not ADD")
            return
        }
        #expect(add.isAdd && add.checksum == "sha256:abc")
        guard case .env(let env) = stage.commands[4] else {
            Issue.record("not ENV")
            return
        }
        #expect(env.pairs == [KeyValuePair(key: "A", value: "1"), KeyValuePair(key: "B", value: "\"two words\"")])
        guard case .env(let legacy) = stage.commands[5] else {
            Issue.record("not ENV")
            return
        }
        #expect(legacy.pairs == [KeyValuePair(key: "LEGACY", value: "value with spaces")])
        guard case .healthcheck(let check) = stage.commands[12] else {
            Issue.record("not HEALTHCHECK")
            return
        }
        #expect(check.test == ["CMD-SHELL", "curl -f http://localhost/"])
        #expect(check.interval == 30_000_000_000 && check.retries == 3)
        guard case .onbuild(let onbuild) = stage.commands[14] else {
            Issue.record("not ONBUILD")
            return
        }
        #expect(onbuild.expression == "RUN echo child")
        guard case .healthcheck(let none) = dockerfile.stages[1].commands[0] else {
            Issue.record("not HEALTHCHECK")
            return
        }
        #expect(none.test == ["NONE"])
    }

    @Test func expansionFollowsBuildKit() throws {
        let dockerfile = try Dockerfile.parse(
            "FROM scratch\nENV A=${X:-def} B=\"$Y z\"\nCOPY $SRC ${DST}/\nRUN echo $NOT_EXPANDED\n",
            fileName: "Dockerfile")
        let env = ["Y": "y", "SRC": "src", "DST": "/dst"]
        let commands = try dockerfile.stages[0].commands.map { try $0.expanded(escapeToken: "\\") { env[$0] } }
        guard case .env(let e) = commands[0], case .copy(let c) = commands[1], case .run(let r) = commands[2] else {
            Issue.record("unexpected commands")
            return
        }
        #expect(e.pairs == [KeyValuePair(key: "A", value: "def"), KeyValuePair(key: "B", value: "y z")])
        #expect(c.sources == [.path("src")] && c.destination == "/dst/")
        #expect(r.command == .shell("echo $NOT_EXPANDED"))
    }

    @Test func heredocsInRunAndCopy() throws {
        let text = "FROM scratch\nRUN <<EOT\necho one\nEOT\nCOPY <<-EOF /etc/conf\n\tkey=value\n\tEOF\n"
        let dockerfile = try Dockerfile.parse(text, fileName: "Dockerfile")
        guard case .run(let run) = dockerfile.stages[0].commands[0],
            case .copy(let copy) = dockerfile.stages[0].commands[1]
        else {
            Issue.record("unexpected commands")
            return
        }
        #expect(run.heredocs == [Heredoc(name: "EOT", content: "echo one\n", expand: true)])
        #expect(copy.sources == [.heredoc(Heredoc(name: "EOF", content: "key=value\n", expand: true))])
        #expect(copy.info.location == SourceRange(startLine: 5, endLine: 7))
    }

    @Test func errorsNameFileLineColumnAndShowACaret() {
        #expect {
            try Dockerfile.parse("FROM scratch\nRUNN echo\n", fileName: "ctx/Dockerfile")
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("ctx/Dockerfile:2:1: unknown instruction: RUNN (did you mean RUN?)")
                && text.contains("\n    RUNN echo\n    ^")
        }
        #expect {
            try Dockerfile.parse("FROM scratch\nCOPY --frm=x a b\n", fileName: "Dockerfile")
        } throws: { error in
            "\(error)".contains("Dockerfile:2:6: unknown flag: --frm for COPY")
        }
        #expect(throws: DockerfileError.self) { try Dockerfile.parse("", fileName: "Dockerfile") }
        #expect(throws: DockerfileError.self) { try Dockerfile.parse("RUN echo\n", fileName: "Dockerfile") }
        #expect(throws: DockerfileError.self) { try Dockerfile.parse("FROM a b\n", fileName: "Dockerfile") }
        #expect(throws: DockerfileError.self) {
            try Dockerfile.parse("FROM scratch\nRUN <<EOF\nno end\n", fileName: "Dockerfile")
        }
    }

    @Test func escapeDirectiveChangesContinuations() throws {
        let dockerfile = try Dockerfile.parse("# escape=`\nFROM scratch\nRUN echo a `\n  b\n", fileName: "Dockerfile")
        #expect(dockerfile.directives.escapeToken == "`")
        guard case .run(let run) = dockerfile.stages[0].commands[0] else {
            Issue.record("not RUN")
            return
        }
        #expect(run.command == .shell("echo a   b"))
    }

    /// Found by the fuzzer (a 10 s timeout): `${v%****…*x}` made the pattern matcher backtrack
    /// over every way to share the text between the stars. It is linear per text position now;
    /// the answers stay the shell's.
    /// Words are read as Unicode scalars, as BuildKit reads runes: a combining mark right after a
    /// quote, an escape or `=` is a character of its own, not part of a grapheme that hides the
    /// quote (`ENV A="\u{301}b"` used to fail with "unexpected end of statement").
    @Test func combiningMarksDoNotHideQuotesOrNames() throws {
        let dockerfile = try Dockerfile.parse("FROM scratch\nENV A=\"\u{301}b\" C=\u{301}d\n", fileName: "Dockerfile")
        let commands = try dockerfile.stages[0].commands.map { try $0.expanded(escapeToken: "\\") { _ in nil } }
        guard case .env(let env) = commands[0] else {
            Issue.record("not ENV")
            return
        }
        #expect(env.pairs == [KeyValuePair(key: "A", value: "\u{301}b"), KeyValuePair(key: "C", value: "\u{301}d")])

        let expander = ShellExpander()
        let values = ["A": "x", "v": "ab\u{301}"]
        // A name stops at a combining mark (it is neither a letter nor a digit).
        #expect(try expander.expand("$A\u{301}") { values[$0] } == "x\u{301}")
        #expect(try expander.expand("'\u{301}'\"\u{301}\"\\\u{301}") { values[$0] } == "\u{301}\u{301}\u{301}")
        #expect(try expander.expand("${v%\u{301}}") { values[$0] } == "ab")
        #expect(try expander.expand("${v/b?/c}") { values[$0] } == "ac")
        #expect(try expander.expandWords("a\u{301} b") { values[$0] } == ["a\u{301}", "b"])
        // Digits are decimal digits of any script (a positional parameter, always empty); other
        // numerals are not names.
        #expect(try expander.expand("[$\u{0661}]") { values[$0] } == "[]")
        #expect(try expander.expand("[$\u{00BD}]") { values[$0] } == "[$\u{00BD}]")
    }

    /// The same for `=` in ARG and flags, `<<` of a heredoc, `$` and `"` in a --mount value and
    /// a CRLF heredoc's tabs: found by scalar, as BuildKit finds bytes and runes.
    @Test func syntaxCharactersBeforeCombiningMarks() throws {
        let text =
            "FROM scratch\nARG N=\u{301}v\nCOPY --chown=\u{301}u a /b\nRUN <<\u{301}E\nx\n\u{301}E\n"
            + "RUN --mount=type=secret,id=\"\u{301}s\" true\nRUN <<-E\r\n\tone\r\n\ttwo\r\nE\r\n"
        let stage = try Dockerfile.parse(text, fileName: "Dockerfile").stages[0]
        guard case .arg(let arg) = stage.commands[0], case .copy(let copy) = stage.commands[1],
            case .run(let heredoc) = stage.commands[2], case .run(let mounted) = stage.commands[3],
            case .run(let chomped) = stage.commands[4]
        else {
            Issue.record("unexpected commands: \(stage.commands)")
            return
        }
        #expect(arg.args == [ArgDeclaration(name: "N", defaultValue: "\u{301}v")])
        #expect(copy.chown == "\u{301}u")
        #expect(heredoc.heredocs.map(\.name) == ["\u{301}E"])
        #expect(try mounted.mounts.map { try RunMountSpec.parse($0).id } == ["\u{301}s"])
        #expect(chomped.heredocs.first?.content == "one\r\ntwo\r\n")
    }

    @Test func patternsWithManyStarsStayFast() throws {
        let value = String(repeating: "ab", count: 200) + "/x"
        let stars = String(repeating: "*", count: 120)
        let env = ["v": value]
        let expander = ShellExpander()
        #expect(try expander.expand("${v%\(stars)/?}") { env[$0] } == String(repeating: "ab", count: 200))
        #expect(try expander.expand("${v%%b\(stars)}") { env[$0] } == "a")
        #expect(try expander.expand("${v#\(stars)q}") { env[$0] } == value)
        #expect(try expander.expand("${v##*[ab]}") { env[$0] } == "/x")
        #expect(try expander.expand("${v#a?a}") { env[$0] } == String(value.dropFirst(3)))
        #expect(try expander.expand("${v%\\/x}") { env[$0] } == String(repeating: "ab", count: 200))
        #expect(try expander.expand("${v%[/x}") { env[$0] } == value)
        #expect(try expander.expand("${v%[!a]x}") { env[$0] } == String(repeating: "ab", count: 200))
        #expect(try expander.expand("${v/b*a/-}") { env[$0] } == "a-b/x")
    }

    @Test func hostileInputNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("FROM RUN COPY <<EOF \\\n\"'`$ {}[]#=-:--x\u{0}\u{FF}".utf8) + [0xC3, 0x28, 0xFF, 0x00]
        for _ in 0..<2000 {
            let length = Int.random(in: 0..<200, using: &generator)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            _ = try? Dockerfile.parse(bytes, fileName: "fuzz")
            _ = try? ShellExpander().expand(String(decoding: bytes, as: UTF8.self)) { _ in "v" }
        }
        _ = try? Dockerfile.parse(Array(repeating: UInt8(ascii: "a"), count: 1 << 16), fileName: "huge")
        // Found by the fuzzer: a duration beyond Int64 nanoseconds used to trap.
        #expect(throws: DockerfileError.self) {
            try Dockerfile.parse(
                "FROM a\nHEALTHCHECK --interval=77777777777777777777777777777777777s CMD true\n", fileName: "Dockerfile"
            )
        }
        _ = try? Dockerfile.parse(
            Array(repeating: "FROM a \\\n", count: 2_000).joined().utf8.map { $0 }, fileName: "deep")
    }
}

@Suite struct IgnoreMatcherTests {
    @Test func dockerignoreSemantics() throws {
        let matcher = try IgnoreMatcher(
            patterns: IgnoreMatcher.patterns(fromIgnoreFile: "# comment\ndrop\n**/*.log\n!logs/important.log\n/*.env\n")
        )
        #expect(matcher.isExcluded("drop"))
        #expect(matcher.isExcluded("drop/inner/file"))
        #expect(matcher.isExcluded("logs/debug.log"))
        #expect(!matcher.isExcluded("logs/important.log"))
        #expect(matcher.isExcluded("secret.env"))
        #expect(!matcher.isExcluded("sub/secret.env"))
        #expect(matcher.canSkipDirectory("drop"))
        #expect(!matcher.canSkipDirectory("logs"))
    }

    /// A .dockerignore written with CRLF line ends has one pattern per line ("\r\n" is a single
    /// Swift Character, so splitting on "\n" once saw one long line).
    @Test func crlfLinesArePatternsOfTheirOwn() throws {
        let patterns = IgnoreMatcher.patterns(fromIgnoreFile: "\u{FEFF}drop\r\n*.log\r\n!keep.log\r\n")
        #expect(patterns == ["drop", "*.log", "!keep.log"])
        let matcher = try IgnoreMatcher(patterns: patterns)
        #expect(matcher.isExcluded("drop/x") && matcher.isExcluded("a.log") && !matcher.isExcluded("keep.log"))
    }

    /// Names are matched rune by rune, as moby's patternmatcher does: `?` takes a combining mark
    /// of a decomposed name, and a precomposed `é` is not the decomposed one.
    @Test func namesAreMatchedAsScalars() throws {
        let decomposed = "cafe\u{301}.txt"
        #expect(try IgnoreMatcher(patterns: ["cafe?.txt"]).isExcluded(decomposed))
        #expect(try !IgnoreMatcher(patterns: ["caf\u{E9}.txt"]).isExcluded(decomposed))
        #expect(try IgnoreMatcher(patterns: ["caf\u{E9}.txt"]).isExcluded("caf\u{E9}.txt"))
        #expect(try IgnoreMatcher(patterns: ["cafe[\u{300}-\u{36F}].txt"]).isExcluded(decomposed))
        #expect(try IgnoreMatcher(patterns: ["dir"]).isExcluded("dir/\u{301}x"))
    }
}
