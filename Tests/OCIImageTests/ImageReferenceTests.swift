import Testing

@testable import OCIImage

@Suite struct ImageReferenceTests {
    @Test(arguments: [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("user/app:v2", "docker.io/user/app:v2", "user/app:v2"),
        ("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest"),
        ("localhost/app:1", "localhost/app:1", "localhost/app:1"),
        ("ghcr.io/org/sub/app:1.0", "ghcr.io/org/sub/app:1.0", "ghcr.io/org/sub/app:1.0"),
        ("index.docker.io/library/alpine", "docker.io/library/alpine:latest", "alpine:latest"),
        ("my_app__x-y.z", "docker.io/library/my_app__x-y.z:latest", "my_app__x-y.z:latest"),
    ])
    func normalizes(_ input: String, _ full: String, _ familiar: String) throws {
        let reference = try ImageReference(parsing: input)
        #expect(reference.description == full)
        #expect(reference.familiarName == familiar)
    }

    @Test func digestReferenceHasNoDefaultTag() throws {
        let hex = String(repeating: "0", count: 64)
        let reference = try ImageReference(parsing: "127.0.0.1:5000/app@sha256:\(hex)")
        #expect(reference.registry == "127.0.0.1:5000")
        #expect(reference.tag == nil)
        #expect(reference.digest?.encoded == hex)
        let both = try ImageReference(parsing: "app:1@sha256:\(hex)")
        #expect(both.tag == "1")
        #expect(both.description == "docker.io/library/app:1@sha256:\(hex)")
    }

    @Test(arguments: [
        "", "Busybox", "app:", "app:-x", "a//b", "-app", "app@sha256:zz", "host:5000/",
        "app:" + String(repeating: "t", count: 129),
    ])
    func rejects(_ input: String) {
        #expect(throws: OCIError.self) { try ImageReference(parsing: input) }
    }
}
