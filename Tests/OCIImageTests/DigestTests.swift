import Testing

@testable import OCIImage

@Suite struct DigestTests {
    @Test func parsesValidSHA256() throws {
        let hex = String(repeating: "ab", count: 32)
        let digest = try Digest(parsing: "sha256:\(hex)")
        #expect(digest.algorithm == .sha256)
        #expect(digest.encoded == hex)
        #expect(digest.description == "sha256:\(hex)")
        #expect(digest.shortID == "abababababab")
    }

    @Test(arguments: [
        "sha256", "sha256:", "md5:" + String(repeating: "a", count: 32), "sha256:" + String(repeating: "A", count: 64),
        "sha256:" + String(repeating: "a", count: 63), "sha256:../../etc/passwd",
        "sha512:" + String(repeating: "a", count: 64),
    ])
    func rejectsMalformed(_ text: String) {
        #expect(throws: OCIError.self) { try Digest(parsing: text) }
    }

    @Test func computesKnownSHA256() {
        #expect(
            Digest.sha256(of: Array("abc".utf8)).encoded
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Digest.sha256(of: [UInt8]()).encoded == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func hasherMatchesOneShot() {
        var hasher = DigestHasher()
        hasher.update(Array("ab".utf8))
        hasher.update(Array("c".utf8))
        #expect(hasher.finalize() == Digest.sha256(of: Array("abc".utf8)))
        #expect(hasher.byteCount == 3)
    }

    @Test func verifiesContent() throws {
        let digest = Digest.sha512(of: Array("x".utf8))
        #expect(digest.matches(Array("x".utf8)))
        #expect(!digest.matches(Array("y".utf8)))
        #expect(try Digest(parsing: digest.description) == digest)
    }
}
