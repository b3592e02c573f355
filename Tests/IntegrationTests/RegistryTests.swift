import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Debian's docker-registry on 127.0.0.1 and a free port, in a temporary directory.
final class TestRegistry {
    let port: Int
    let directory: String
    private let process: Spawned
    /// Whether this registry made (and removes) its storage directory.
    private let owner: Bool

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/docker-registry") }

    /// `user`: require htpasswd (basic) authentication for this user and password.
    /// `tokenRealm`: require bearer tokens from this realm, signed by `certificate`'s key.
    init(
        user: (name: String, password: String)? = nil, tokenRealm: String? = nil, certificate: String? = nil,
        port: Int? = nil, reusing storage: String? = nil
    ) throws {
        owner = storage == nil
        directory = storage ?? NSTemporaryDirectory() + "berth-registry-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        self.port = port ?? Self.freePort()
        let port = self.port
        var config = """
            version: 0.1
            log:
              level: error
            storage:
              filesystem:
                rootdirectory: \(directory)/data
            http:
              addr: 127.0.0.1:\(port)
              secret: berth-test-secret

            """
        if let user {
            let hash = try BerthHarness.run(
                "/usr/bin/python3",
                [
                    "-W", "ignore", "-c",
                    "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
                    user.password,
                ])
            try "\(user.name):\(hash.stdout.trimmingCharacters(in: .whitespacesAndNewlines))\n".write(
                toFile: directory + "/htpasswd", atomically: true, encoding: .utf8)
            config += """
                auth:
                  htpasswd:
                    realm: berth-test
                    path: \(directory)/htpasswd

                """
        }
        if let tokenRealm, let certificate {
            config += """
                auth:
                  token:
                    realm: \(tokenRealm)
                    service: berth-test
                    issuer: berth-test-issuer
                    rootcertbundle: \(certificate)

                """
        }
        try config.write(toFile: directory + "/config.yml", atomically: true, encoding: .utf8)
        process = try Spawned("/usr/bin/docker-registry", ["serve", directory + "/config.yml"])
        for _ in 0..<200 where !Self.answers(port) { Thread.sleep(forTimeInterval: 0.05) }
    }

    var host: String { "127.0.0.1:\(port)" }

    private var stopped = false

    func stop() {
        guard !stopped else { return }
        stopped = true
        kill(process.pid, SIGTERM)
        process.wait()
    }

    deinit {
        stop()
        if owner { try? FileManager.default.removeItem(atPath: directory) }
    }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func answers(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

@Suite(.serialized) struct RegistryTests {
    static let dockerfile = """
        FROM busybox-base
        RUN echo layered > /one && mkdir /d && echo two > /d/two
        COPY note.txt /note.txt
        CMD ["sh", "-c", "cat /one /d/two /note.txt"]
        """

    @Test func pushPullRunAndDockerBothWays() throws {
        guard TestRegistry.available else {
            print("RegistryTests: skipped (apt-get install docker-registry)")
            return
        }
        let registry = try TestRegistry()
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let context = try h.context("app", ["Dockerfile": Self.dockerfile, "note.txt": "note\n"])
        let name = "\(registry.host)/team/app:1"
        #expect(try h.berth(["build", "-q", "-t", name, context]).status == 0)
        let push = try h.berth(["push", name])
        #expect(push.status == 0, "\(push.stderr)")
        #expect(push.stdout.hasPrefix("sha256:"))
        // Again: every blob is already there.
        let again = try h.berth(["push", name])
        #expect(again.stderr.contains("Layer already exists") && !again.stderr.contains("Pushed"), "\(again.stderr)")

        let empty = try BerthHarness()
        defer { empty.cleanup() }
        let pull = try empty.berth(["pull", name])
        #expect(pull.status == 0, "\(pull.stderr)")
        #expect(try empty.berth(["run", "--rm", name]).stdout == "layered\ntwo\nnote\n")
        #expect(try empty.imageID(name) == (try h.imageID(name)), "the image id survives the round trip")
        let repeated = try empty.berth(["pull", name])
        #expect(repeated.stderr.contains("Already exists"))
        // FROM pulls a missing base by itself.
        let child = try empty.context("child", ["Dockerfile": "FROM \(name)\nRUN echo child > /c\n"])
        let fresh = try BerthHarness()
        defer { fresh.cleanup() }
        let childBuild = try fresh.berth(["build", "-q", "-t", "child", child])
        #expect(childBuild.status == 0, "\(childBuild.stderr)")

        guard BerthHarness.dockerAvailable else {
            print("RegistryTests: docker part skipped (no docker daemon)")
            return
        }
        defer { _ = try? BerthHarness.run("/usr/bin/docker", ["rmi", "-f", name]) }
        let dockerPull = try BerthHarness.run("/usr/bin/docker", ["pull", name])
        #expect(dockerPull.status == 0, "docker pull: \(dockerPull.stderr)")
        let dockerRun = try BerthHarness.run("/usr/bin/docker", ["run", "--rm", "--network", "none", name])
        #expect(dockerRun.stdout == "layered\ntwo\nnote\n", "\(dockerRun.stderr)")
        // The other way: docker pushes, berth pulls and runs.
        let fromDocker = "\(registry.host)/from/docker:1"
        let imported = try BerthHarness.run(
            "/usr/bin/docker",
            ["import", "-c", #"CMD ["sh","-c","echo pushed by docker"]"#, h.work + "/base.tar", fromDocker])
        #expect(imported.status == 0, "\(imported.stderr)")
        defer { _ = try? BerthHarness.run("/usr/bin/docker", ["rmi", "-f", fromDocker]) }
        let dockerPush = try BerthHarness.run("/usr/bin/docker", ["push", fromDocker])
        #expect(dockerPush.status == 0, "docker push: \(dockerPush.stderr)")
        #expect(try empty.berth(["pull", fromDocker]).status == 0)
        #expect(try empty.berth(["run", "--rm", fromDocker]).stdout == "pushed by docker\n")
    }

    @Test func basicAuthLoginAndWrongPasswords() throws {
        guard TestRegistry.available else {
            print("RegistryTests: skipped (apt-get install docker-registry)")
            return
        }
        let registry = try TestRegistry(user: ("ci", "s3cret"))
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let config = h.work + "/docker-config"
        let environment = ["DOCKER_CONFIG": config]
        let name = "\(registry.host)/private/base:1"
        #expect(try h.berth(["tag", "busybox-base", name]).status == 0)
        let anonymous = try h.berth(["push", name], environment: environment)
        #expect(anonymous.status == 1)
        #expect(anonymous.stderr.contains("registry \(registry.host)"), "\(anonymous.stderr)")
        let wrong = try h.berth(
            ["login", "-u", "ci", "--password-stdin", registry.host], stdin: Data("nope\n".utf8),
            environment: environment)
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("authentication to registry \(registry.host) failed"), "\(wrong.stderr)")
        let login = try h.berth(
            ["login", "-u", "ci", "--password-stdin", registry.host], stdin: Data("s3cret\n".utf8),
            environment: environment)
        #expect(login.status == 0, "\(login.stderr)")
        #expect(login.stdout.contains("Login Succeeded"))
        let saved = try String(contentsOfFile: config + "/config.json", encoding: .utf8)
        #expect(saved.contains(registry.host))
        #expect(try h.berth(["push", name], environment: environment).status == 0)
        let empty = try BerthHarness()
        defer { empty.cleanup() }
        #expect(try empty.berth(["pull", name], environment: ["DOCKER_CONFIG": h.work + "/nowhere"]).status == 1)
        let pull = try empty.berth(["pull", name], environment: environment)
        #expect(pull.status == 0, "\(pull.stderr)")
        #expect(try empty.berth(["run", "--rm", name, "echo", "ok"], environment: environment).stdout == "ok\n")
        #expect(try h.berth(["logout", registry.host], environment: environment).status == 0)
        #expect(try !String(contentsOfFile: config + "/config.json", encoding: .utf8).contains(registry.host))
    }

    @Test func aBlobWithTheWrongDigestIsRefusedAndNothingStored() throws {
        guard TestRegistry.available else {
            print("RegistryTests: skipped (apt-get install docker-registry)")
            return
        }
        let registry = try TestRegistry()
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let name = "\(registry.host)/broken/base:1"
        #expect(try h.berth(["tag", "busybox-base", name]).status == 0)
        #expect(try h.berth(["push", name]).status == 0)
        // Corrupt every layer blob in the registry's storage.
        let blobs = registry.directory + "/data/docker/registry/v2/blobs/sha256"
        let enumerator = FileManager.default.enumerator(atPath: blobs)
        while let path = enumerator?.nextObject() as? String {
            let full = blobs + "/" + path
            guard path.hasSuffix("/data"),
                let size = try? FileManager.default.attributesOfItem(atPath: full)[.size] as? Int,
                size > 4096
            else { continue }
            let handle = try #require(FileHandle(forUpdatingAtPath: full))
            handle.seek(toFileOffset: UInt64(size / 2))
            handle.write(Data([0x42]))
            handle.closeFile()
        }
        let empty = try BerthHarness()
        defer { empty.cleanup() }
        let pull = try empty.berth(["pull", name])
        #expect(pull.status == 1)
        #expect(pull.stderr.contains("refused, nothing stored"), "\(pull.stderr)")
        #expect(try empty.berth(["images", "-q"]).stdout.isEmpty)
        #expect(try empty.berth(["system", "check"]).status == 0)
    }
}

/// `--cache-to` on one store, `--cache-from` on an empty one.
@Suite(.serialized) struct SharedCacheTests {
    static func dockerfile(_ base: String) -> String {
        """
        FROM \(base) AS tools
        RUN echo tool > /tool && sleep 0.2
        FROM \(base)
        RUN echo one > /one && date +%s%N > /stamp
        COPY data.txt /data.txt
        COPY --from=tools /tool /tool
        RUN cat /one /data.txt /tool > /all
        CMD ["cat", "/all"]
        """
    }

    @Test func anEmptyStoreReusesEveryStepFromARegistryOrADirectory() throws {
        guard TestRegistry.available else {
            print("SharedCacheTests: skipped (apt-get install docker-registry)")
            return
        }
        let registry = try TestRegistry()
        let a = try BerthHarness()
        defer { a.cleanup() }
        try a.importBase()
        let base = "\(registry.host)/ci/base:1"
        #expect(try a.berth(["tag", "busybox-base", base]).status == 0)
        #expect(try a.berth(["push", base]).status == 0)
        let context = try a.context("app", ["Dockerfile": Self.dockerfile(base), "data.txt": "data\n"])
        let cacheRef = "\(registry.host)/ci/cache:main"
        let local = a.work + "/cache-dir"
        let first = try a.berth([
            "build", "--progress", "plain", "-t", "app", "--cache-to", "type=registry,ref=\(cacheRef),mode=max",
            "--cache-to", "type=local,dest=\(local),mode=max", context,
        ])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("exporting cache to"))
        let id = try a.imageID("app:latest")

        for source in ["type=registry,ref=\(cacheRef)", "type=local,src=\(local)"] {
            let b = try BerthHarness()
            defer { b.cleanup() }
            let build = try b.berth(["build", "--progress", "plain", "-t", "app", "--cache-from", source, context])
            #expect(build.status == 0, "\(build.stderr)")
            let steps = build.stderr.split(separator: "\n").filter { $0.contains("] RUN ") || $0.contains("] COPY ") }
            #expect(steps.count == 5, "\(build.stderr)")
            let cachedCount = build.stderr.components(separatedBy: " CACHED").count - 1
            #expect(cachedCount == 5, "every RUN and COPY is cached from \(source): \(build.stderr)")
            #expect(try b.imageID("app:latest") == id, "the same image id from \(source)")
            #expect(try b.berth(["run", "--rm", "app"]).stdout == "one\ndata\ntool\n")
        }
        let bad = try a.berth(["build", "--cache-to", "type=s3,bucket=x", context])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--cache-to"))
    }
}

/// Bearer tokens from a token server, and a registry that goes away.
@Suite(.serialized) struct RegistryTokenTests {
    @Test func bearerTokensFromATokenServer() throws {
        guard TestRegistry.available, FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else {
            print("RegistryTokenTests: skipped (needs docker-registry and openssl)")
            return
        }
        let h = try BerthHarness()
        defer { h.cleanup() }
        let key = h.work + "/key.pem"
        let certificate = h.work + "/cert.pem"
        let made = try BerthHarness.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "1",
                "-subj", "/CN=berth-token",
            ])
        #expect(made.status == 0, "\(made.stderr)")
        let tokenPort = TestRegistry.freePort()
        let server = try Spawned(
            "/usr/bin/python3",
            [
                BerthHarness.packageRoot + "/Tests/IntegrationTests/Scripts/token-server.py", String(tokenPort), key,
                certificate, "ci", "t0ken-pass",
            ])
        defer {
            kill(server.pid, SIGTERM)
            server.wait()
        }
        for _ in 0..<100 where !TestRegistry.answers(tokenPort) { Thread.sleep(forTimeInterval: 0.05) }
        let registry = try TestRegistry(tokenRealm: "http://127.0.0.1:\(tokenPort)/token", certificate: certificate)
        try h.importBase()
        let name = "\(registry.host)/secure/base:1"
        #expect(try h.berth(["tag", "busybox-base", name]).status == 0)
        let environment = ["DOCKER_CONFIG": h.work + "/docker-config"]
        let anonymous = try h.berth(["push", name], environment: environment)
        #expect(anonymous.status == 1)
        #expect(anonymous.stderr.contains(registry.host), "\(anonymous.stderr)")
        let wrong = try h.berth(
            ["login", "-u", "ci", "--password-stdin", registry.host], stdin: Data("bad\n".utf8),
            environment: environment)
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("wrong username or password"), "\(wrong.stderr)")
        let login = try h.berth(
            ["login", "-u", "ci", "--password-stdin", registry.host], stdin: Data("t0ken-pass\n".utf8),
            environment: environment)
        #expect(login.status == 0, "\(login.stderr)")
        let push = try h.berth(["push", name], environment: environment)
        #expect(push.status == 0, "\(push.stderr)")
        let empty = try BerthHarness()
        defer { empty.cleanup() }
        let pull = try empty.berth(["pull", name], environment: environment)
        #expect(pull.status == 0, "\(pull.stderr)")
        #expect(
            try empty.berth(["run", "--rm", name, "echo", "via token"], environment: environment).stdout
                == "via token\n")
    }

    @Test func chunkedUploadsAndCrossRepositoryMounts() throws {
        guard TestRegistry.available else {
            print("RegistryTokenTests: skipped (apt-get install docker-registry)")
            return
        }
        let registry = try TestRegistry()
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let first = "\(registry.host)/team/a:1"
        #expect(try h.berth(["tag", "busybox-base", first]).status == 0)
        // 64 KiB chunks: the ~1 MB base layer goes up in many PATCH requests.
        let chunked = try h.berth(["push", first], environment: ["BERTH_PUSH_CHUNK_SIZE": "65536"])
        #expect(chunked.status == 0, "\(chunked.stderr)")
        let empty = try BerthHarness()
        defer { empty.cleanup() }
        #expect(try empty.berth(["pull", first]).status == 0)
        #expect(try empty.berth(["run", "--rm", first, "echo", "whole"]).stdout == "whole\n")
        // Another repository of the same registry: the blobs are mounted, not sent.
        let second = "\(registry.host)/team/b:1"
        #expect(try h.berth(["tag", "busybox-base", second]).status == 0)
        let mounted = try h.berth(["push", second])
        #expect(mounted.status == 0, "\(mounted.stderr)")
        #expect(
            mounted.stderr.contains("Mounted from team/a") && !mounted.stderr.contains(": Pushed"), "\(mounted.stderr)")
        #expect(try empty.berth(["pull", second]).status == 0)
    }

    @Test func dockerHubNamesComeFromAConfiguredMirror() throws {
        guard TestRegistry.available else {
            print("RegistryTokenTests: skipped (apt-get install docker-registry)")
            return
        }
        let registry = try TestRegistry()
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        // The mirror holds library/mirrored-busybox, as a docker.io pull-through cache would.
        let inMirror = "\(registry.host)/library/mirrored-busybox:1"
        #expect(try h.berth(["tag", "busybox-base", inMirror]).status == 0)
        #expect(try h.berth(["push", inMirror]).status == 0)
        let config = h.work + "/registries.json"
        try #"{"registry-mirrors": ["http://\#(registry.host)"]}"#.write(
            toFile: config, atomically: true, encoding: .utf8)
        let empty = try BerthHarness()
        defer { empty.cleanup() }
        let pull = try empty.berth(["pull", "mirrored-busybox:1"], environment: ["BERTH_REGISTRIES_CONFIG": config])
        #expect(pull.status == 0, "\(pull.stderr)")
        #expect(
            try empty.berth(["run", "--rm", "mirrored-busybox:1", "echo", "from mirror"]).stdout == "from mirror\n")
    }

    @Test func aStoppedRegistryIsNamedAndARetrySkipsWhatArrived() throws {
        guard TestRegistry.available else {
            print("RegistryTokenTests: skipped (apt-get install docker-registry)")
            return
        }
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let registry = try TestRegistry()
        let port = registry.port
        let host = "127.0.0.1:\(port)"
        #expect(try h.berth(["tag", "busybox-base", "\(host)/app/more:base"]).status == 0)
        #expect(try h.berth(["push", "\(host)/app/more:base"]).status == 0)
        let context = try h.context("app", ["Dockerfile": "FROM busybox-base\nRUN echo more > /more\n"])
        #expect(try h.berth(["build", "-q", "-t", "\(host)/app/more:1", context]).status == 0)
        registry.stop()
        let failed = try h.berth(["push", "\(host)/app/more:1"])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("cannot reach registry \(host)"), "\(failed.stderr)")
        // The registry comes back with the same storage: the base layer is not sent again.
        let again = try TestRegistry(port: port, reusing: registry.directory)
        defer { again.stop() }
        #expect(try h.berth(["push", "\(host)/app/more:base"]).status == 0)
        let retry = try h.berth(["push", "\(host)/app/more:1"])
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(retry.stderr.components(separatedBy: "Layer already exists").count - 1 >= 1, "\(retry.stderr)")
        #expect(
            retry.stderr.components(separatedBy: ": Pushed").count - 1 == 2,
            "the new layer and the config: \(retry.stderr)")
    }
}
