import Foundation
import Testing

@testable import OCIImage

@Suite struct ImageConfigTests {
    @Test func encodesDockerFieldNamesCanonically() throws {
        var container = ContainerConfig()
        container.env = ["PATH=/bin"]
        container.exposedPorts = ["80/tcp": EmptyObject()]
        container.cmd = ["sh"]
        container.healthcheck = Healthcheck(test: ["CMD", "true"], interval: 30_000_000_000, retries: 3)
        let diffID = Digest.sha256(of: [UInt8]())
        let config = ImageConfig(
            created: "2026-01-01T00:00:00Z", platform: Platform(architecture: "amd64", os: "linux"), config: container,
            rootfs: RootFS(diffIDs: [diffID]), history: [History(createdBy: "RUN x", emptyLayer: true)])
        let text = String(decoding: try CanonicalJSON.encode(config), as: UTF8.self)
        #expect(text.contains(#""ExposedPorts":{"80/tcp":{}}"#))
        #expect(text.contains(#""diff_ids":["\#(diffID)"]"#))
        #expect(text.contains(#""empty_layer":true"#))
        #expect(text.contains(#""Healthcheck":{"Interval":30000000000,"Retries":3,"Test":["CMD","true"]}"#))
        #expect(!text.contains("\n"))
        // Same value, same bytes; and it decodes back to the same value.
        #expect(try CanonicalJSON.encode(config) == CanonicalJSON.encode(config))
        let decoded = try CanonicalJSON.decode(ImageConfig.self, from: Array(text.utf8), what: "config")
        #expect(decoded == config)
    }

    @Test func decodingErrorsNameWhatAndWhere() {
        let bad = Array(
            #"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:nope","size":1},"layers":[]}"#.utf8)
        #expect {
            try CanonicalJSON.decode(Manifest.self, from: bad, what: "manifest m")
        } throws: { error in
            "\(error)".contains("manifest m") && "\(error)".contains("config")
        }
    }

    @Test func environmentHelpers() {
        var container = ContainerConfig()
        container.setEnvironment("A", "1")
        container.setEnvironment("B", "2=3")
        container.setEnvironment("A", "4")
        #expect(container.env == ["A=4", "B=2=3"])
        #expect(container.environmentValue("B") == "2=3")
        #expect(container.environmentValue("C") == nil)
    }

    @Test func platformParsing() throws {
        #expect(try Platform(parsing: "linux/arm64/v8").description == "linux/arm64/v8")
        #expect(throws: OCIError.self) { try Platform(parsing: "linux") }
    }
}

@Suite struct TimestampTests {
    @Test func formatsLikeISO8601() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for seconds in [0.0, 951_782_400.5, 1_700_000_000.123, 4_102_444_799.999, 1_709_164_800.25] {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(Timestamp.rfc3339(date) == formatter.string(from: date))
        }
        #expect(Timestamp.rfc3339(epoch: 1_700_000_000) == "2023-11-14T22:13:20Z")
        #expect(Timestamp.rfc3339(epoch: 951_868_800) == "2000-03-01T00:00:00Z")
    }
}
