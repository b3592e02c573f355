import Testing

@testable import BuildEngine

@Suite struct CacheKeyTests {
    @Test func keysDependOnParentKindAndParts() {
        let base = CacheKey.base("sha256:abc", platform: "linux/amd64")
        let a = CacheKey.derive(parent: base, kind: "RUN", parts: ["echo", "hi"])
        #expect(a == CacheKey.derive(parent: base, kind: "RUN", parts: ["echo", "hi"]))
        #expect(a != CacheKey.derive(parent: base, kind: "RUN", parts: ["echo hi"]))
        #expect(a != CacheKey.derive(parent: base, kind: "COPY", parts: ["echo", "hi"]))
        #expect(
            a
                != CacheKey.derive(
                    parent: CacheKey.base("sha256:abd", platform: "linux/amd64"), kind: "RUN", parts: ["echo", "hi"]))
        // Length prefixes: moving a boundary between parts changes the key.
        #expect(
            CacheKey.derive(parent: nil, kind: "X", parts: ["ab", "c"])
                != CacheKey.derive(parent: nil, kind: "X", parts: ["a", "bc"]))
        #expect(a.value.count == 64)
    }
}

@Suite struct RootedPathTests {
    @Test func cleanCollapsesDotsAndSlashes() {
        #expect(RootedPath.clean("a//b/./c/../d/") == "/a/b/d")
        #expect(RootedPath.clean("../../x") == "/x")
        #expect(RootedPath.clean("") == "/")
    }
}

@Suite struct ExposeTests {
    @Test func portsAndRanges() throws {
        #expect(try ConfigChange.exposedPorts("80") == ["80/tcp"])
        #expect(try ConfigChange.exposedPorts("53/UDP") == ["53/udp"])
        #expect(try ConfigChange.exposedPorts("8000-8002/tcp") == ["8000/tcp", "8001/tcp", "8002/tcp"])
        #expect(throws: BuildError.self) { try ConfigChange.exposedPorts("http") }
        #expect(throws: BuildError.self) { try ConfigChange.exposedPorts("90-80") }
        #expect(throws: BuildError.self) { try ConfigChange.exposedPorts("80/icmp") }
    }

    @Test func sourceExcerptMarksTheFailingLines() throws {
        let text = Array("FROM a\nRUN b\nRUN c \\\n  d\nCMD e\n".utf8)
        let excerpt = try #require(SourceExcerpt.make(text, range: .init(startLine: 3, endLine: 4)))
        #expect(excerpt.contains(">>>   3 | RUN c \\"))
        #expect(excerpt.contains(">>>   4 |   d"))
        #expect(excerpt.contains("      2 | RUN b"))
    }
}
