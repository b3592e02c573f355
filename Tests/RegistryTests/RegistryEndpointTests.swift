import OCIImage
import Testing

@testable import Registry

@Suite struct RegistryEndpointTests {
    @Test func dockerHubUsesRegistryOneOverHTTPS() throws {
        let endpoint = RegistryEndpoint(reference: try ImageReference(parsing: "busybox"))
        #expect(endpoint.host == "registry-1.docker.io")
        #expect(endpoint.scheme == "https")
        #expect(
            endpoint.manifestURL("latest")?.absoluteString
                == "https://registry-1.docker.io/v2/library/busybox/manifests/latest")
    }

    @Test(arguments: [
        ("localhost:5000/app", "http"), ("127.0.0.1:41234/app", "http"), ("127.1.2.3/app", "http"),
        ("[::1]:5000/app", "http"), ("registry.example.com/app", "https"), ("10.0.0.1:5000/app", "https"),
    ])
    func plainHTTPOnlyForLoopback(_ name: String, _ scheme: String) throws {
        #expect(RegistryEndpoint(reference: try ImageReference(parsing: name)).scheme == scheme)
    }

    @Test func insecureRegistriesAreHonoured() throws {
        let reference = try ImageReference(parsing: "registry.lan:5000/app")
        #expect(RegistryEndpoint(reference: reference, insecureRegistries: ["registry.lan:5000"]).scheme == "http")
    }

    @Test func uploadWithCrossRepositoryMount() throws {
        let endpoint = RegistryEndpoint(reference: try ImageReference(parsing: "localhost:5000/team/app"))
        let digest = Digest.sha256(of: [UInt8]())
        #expect(
            endpoint.uploadURL(mount: digest, from: "team/base")?.absoluteString
                == "http://localhost:5000/v2/team/app/blobs/uploads/?mount=\(digest)&from=team/base")
    }
}

@Suite struct AuthChallengeTests {
    @Test func parsesBearer() {
        let challenges = AuthChallenge.parse(
            #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#
        )
        #expect(challenges.count == 1)
        #expect(challenges[0].scheme == "bearer")
        #expect(challenges[0].realm == "https://auth.docker.io/token")
        #expect(challenges[0].service == "registry.docker.io")
        #expect(challenges[0].scope == "repository:library/busybox:pull,push")
    }

    @Test func parsesBasicAndEscapes() {
        let challenges = AuthChallenge.parse(#"Basic realm="Registry \"lab\"", Bearer realm=x"#)
        #expect(challenges.map(\.scheme) == ["basic", "bearer"])
        #expect(challenges[0].realm == #"Registry "lab""#)
        #expect(challenges[1].realm == "x")
    }

    @Test func garbageGivesNothingOrSchemesOnly() {
        #expect(AuthChallenge.parse("").isEmpty)
        #expect(AuthChallenge.parse("   ,, ").isEmpty)
        #expect(AuthChallenge.parse("Negotiate").map(\.scheme) == ["negotiate"])
    }
}
