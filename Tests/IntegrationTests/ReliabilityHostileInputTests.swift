import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Hostile input: Dockerfiles, build contexts, archives and registries made to break berth or to
/// make it write or read outside its store. Each must end in a clear error (or a harmless
/// result), never a crash; nothing may appear outside the store and the target; `system check`
/// stays clean. (`make test-slow`.)
@Suite(.serialized, .enabled(if: Reliability.enabled)) struct ReliabilityHostileInputTests {
    static let scripts = BerthHarness.packageRoot + "/Tests/IntegrationTests/Scripts"

    /// A directory outside the store holding one file, `secret`, that nothing may touch.
    struct Sentinel {
        let directory: String
        init(_ h: BerthHarness) throws {
            directory = h.work + "/sentinel"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data("sentinel secret\n".utf8).write(to: URL(fileURLWithPath: directory + "/secret"))
        }
        /// What changed about it (empty when nothing did).
        var damage: [String] {
            var found: [String] = []
            let names = Reliability.entries(directory)
            if names != ["secret"] { found.append("sentinel directory now holds \(names)") }
            var info = stat()
            if stat(directory + "/secret", &info) == 0 {
                if info.st_nlink != 1 { found.append("sentinel file has \(info.st_nlink) links") }
                if (try? String(contentsOfFile: directory + "/secret", encoding: .utf8)) != "sentinel secret\n" {
                    found.append("sentinel file changed")
                }
            } else {
                found.append("sentinel file is gone")
            }
            return found
        }
    }

    /// Common checks after a hostile input: no crash, store clean, no leftovers.
    func afterwards(_ label: String, _ result: BerthHarness.Result, _ h: BerthHarness, _ sentinel: Sentinel?) throws
        -> [String]
    {
        var problems: [String] = []
        let firstLine = result.stderr.split(separator: "\n").last.map(String.init) ?? ""
        Reliability.report("hostile \(label): exit \(result.status): \(firstLine.prefix(300))")
        if result.status >= 128 || result.status < 0 { problems.append("\(label): crashed (\(result.status))") }
        if result.stderr.contains("Fatal error") || result.stderr.contains("Stack dump") {
            problems.append("\(label): crashed: \(result.stderr.prefix(500))")
        }
        if let check = try h.checkProblems() { problems.append("\(label): system check: \(check)") }
        if !h.leakedMounts().isEmpty { problems.append("\(label): mounts left") }
        let temporary = Reliability.entries(h.root + "/tmp")
        if !temporary.isEmpty { problems.append("\(label): store tmp/ left: \(temporary)") }
        if !Reliability.entries(h.scratch).isEmpty {
            problems.append("\(label): TMPDIR left: \(Reliability.entries(h.scratch))")
        }
        for damage in sentinel?.damage ?? [] { problems.append("\(label): \(damage)") }
        return problems
    }

    /// A failure whose message must contain every one of `needles`.
    func expectError(_ label: String, _ result: BerthHarness.Result, mentions needles: [String]) -> [String] {
        guard result.status != 0 else { return ["\(label): succeeded, expected an error"] }
        return needles.filter { !result.stderr.contains($0) }.map {
            "\(label): the error does not mention '\($0)': \(result.stderr.prefix(400))"
        }
    }

    @Test func hostileDockerfiles() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        var problems: [String] = []
        func build(_ name: String, _ dockerfile: Data) throws -> BerthHarness.Result {
            let dir = h.work + "/" + name
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try dockerfile.write(to: URL(fileURLWithPath: dir + "/Dockerfile"))
            let started = Reliability.now()
            defer {
                Reliability.report("hostile build \(name): \(String(format: "%.1f", Reliability.now() - started)) s")
            }
            return try h.berth(["build", "-q", "-t", name, dir], environment: h.environment)
        }
        // A 10 MB line: one argument longer than the kernel takes (MAX_ARG_STRLEN is 128 KiB).
        let huge = try build(
            "huge-line", Data(("FROM busybox-base\nRUN echo " + String(repeating: "a", count: 10 << 20) + "\n").utf8))
        problems += try afterwards("10 MB line", huge, h, nil)
        problems += expectError("10 MB line", huge, mentions: ["RUN", "too long"])
        // The same size as a label is fine: it goes to the config.
        let label = try build(
            "huge-label",
            Data(("FROM busybox-base\nLABEL big=" + String(repeating: "b", count: 10 << 20) + "\n").utf8))
        problems += try afterwards("10 MB label", label, h, nil)
        if label.status != 0 { problems.append("10 MB label: \(label.stderr.prefix(300))") }
        // 100 000 continuation lines. Joined, they are one 600 kB argument: too long for exec,
        // as with docker; the error names the instruction's line.
        var deep = "FROM busybox-base\nRUN echo start \\\n"
        for _ in 0..<100_000 { deep += "  x \\\n" }
        deep += "  end > /deep\n"
        let continued = try build("deep", Data(deep.utf8))
        problems += try afterwards("100k continuation lines", continued, h, nil)
        problems += expectError("100k continuation lines", continued, mentions: ["Dockerfile:2", "too long"])
        // 100 000 comment lines inside one continuation: dropped, so the command is short.
        var comments = "FROM busybox-base\nRUN echo start \\\n"
        for index in 0..<100_000 { comments += "# comment \(index)\n" }
        comments += "  end > /deep\nCMD [\"cat\", \"/deep\"]\n"
        let commented = try build("comments", Data(comments.utf8))
        problems += try afterwards("100k comment lines in a continuation", commented, h, nil)
        if commented.status != 0 {
            problems.append("100k comment lines: \(commented.stderr.prefix(300))")
        } else if try h.berth(["run", "--rm", "comments"]).stdout != "start end\n" {
            problems.append("100k comment lines: the command is not 'echo start end'")
        }
        // Bytes that are not UTF-8 (docker takes them as they are) and a NUL byte (no argv can hold it).
        let invalid = try build(
            "invalid-utf8", Data("FROM busybox-base\nRUN echo ".utf8) + Data([0xff, 0xfe, 0xc3]) + Data(" > /x\n".utf8))
        problems += try afterwards("invalid UTF-8", invalid, h, nil)
        if invalid.status != 0 { problems.append("invalid UTF-8: \(invalid.stderr.prefix(300))") }
        let nul = try build(
            "nul", Data("FROM busybox-base\nRUN echo a".utf8) + Data([0]) + Data("b > /x\nRUN true\n".utf8))
        problems += try afterwards("NUL byte", nul, h, nil)
        problems += expectError("NUL byte", nul, mentions: ["Dockerfile:2", "NUL"])
        for problem in problems {
            Reliability.report("FAILURE \(problem)")
            Issue.record("\(problem)")
        }
    }

    @Test func hostileContexts() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let sentinel = try Sentinel(h)
        var problems: [String] = []
        let shadow = (try? String(contentsOfFile: "/etc/shadow", encoding: .utf8)) ?? "root:"
        let secretEnvironment = "BERTH_RELIABILITY_SECRET=" + UUID().uuidString
        let context = h.work + "/links"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: context + "/shadow", withDestinationPath: "/etc/shadow")
        try FileManager.default.createSymbolicLink(
            atPath: context + "/up", withDestinationPath: "../../../../../../../../etc/shadow")
        try FileManager.default.createSymbolicLink(
            atPath: context + "/environ", withDestinationPath: "/proc/self/environ")
        try FileManager.default.createSymbolicLink(
            atPath: context + "/sentinel", withDestinationPath: sentinel.directory)
        try FileManager.default.createSymbolicLink(atPath: context + "/loop-a", withDestinationPath: "loop-b")
        try FileManager.default.createSymbolicLink(atPath: context + "/loop-b", withDestinationPath: "loop-a")

        func build(_ name: String, _ dockerfile: String) throws -> BerthHarness.Result {
            try dockerfile.write(toFile: context + "/Dockerfile", atomically: false, encoding: .utf8)
            var environment = h.environment
            environment["BERTH_RELIABILITY_SECRET"] = String(secretEnvironment.split(separator: "=")[1])
            return try h.berth(["build", "-q", "-t", name, context], environment: environment)
        }
        /// The file as the image has it (empty when the build failed).
        func read(_ name: String, _ path: String) throws -> String {
            try h.berth(["run", "--rm", name, "cat", path]).stdout
        }
        // Symlinks that leave the context are followed inside it (as BuildKit does): they name
        // files the context does not have.
        for (source, what) in [("shadow", "/etc/shadow"), ("up", "../ to /etc/shadow"), ("environ", "/proc")] {
            let result = try build("link-\(source)", "FROM busybox-base\nCOPY \(source) /copied\n")
            problems += try afterwards("context symlink to \(what)", result, h, sentinel)
            if result.status == 0 {
                let copied = try read("link-\(source)", "/copied")
                if copied.contains(shadow.prefix(20)) || copied.contains(secretEnvironment) {
                    problems.append("context symlink to \(what): the host's file was copied")
                }
            } else {
                problems += expectError("context symlink to \(what)", result, mentions: [source])
            }
        }
        // The whole context: the links are copied as links, nothing is read through them.
        let whole = try build("whole", "FROM busybox-base\nCOPY shadow up environ sentinel /ctx/\n")
        problems += try afterwards("context with outward symlinks", whole, h, sentinel)
        // COPY into a directory of the context that is a symlink to outside: the copy stays in the image.
        let into = try build("into", "FROM busybox-base\nCOPY sentinel/secret /s\n")
        problems += try afterwards("COPY through a symlinked directory", into, h, sentinel)
        if into.status == 0, try read("into", "/s").contains("sentinel secret") {
            problems.append("COPY sentinel/secret read the host's file through the symlink")
        }
        // A symlink loop.
        let loop = try build("loop", "FROM busybox-base\nCOPY loop-a /a\n")
        problems += try afterwards("symlink loop", loop, h, sentinel)
        // (BuildKit follows a source symlink inside the context and fails with "too many
        // symlinks"; berth copies the link itself, which is harmless.)
        if loop.status != 0 { problems += expectError("symlink loop", loop, mentions: ["loop-a"]) }
        // A `..` hidden by a combining mark after the slash (one Swift Character, but the kernel
        // walks the `..`): the file beside the context stays unread, as BuildKit says not found.
        try "beside secret\n".write(toFile: h.work + "/\u{301}beside", atomically: false, encoding: .utf8)
        let beside = try build("beside", "FROM busybox-base\nCOPY ../\u{301}beside /b\n")
        problems += try afterwards("COPY ../ hidden by a combining mark", beside, h, sentinel)
        if beside.status == 0, try read("beside", "/b").contains("beside secret") {
            problems.append("COPY ../\u{301}beside read the file beside the context")
        } else if beside.status != 0 {
            problems += expectError("COPY ../ hidden by a combining mark", beside, mentions: ["not found"])
        }
        // COPY --from a stage through symlink chains that point outside its root.
        let chain = try build(
            "chain",
            """
            FROM busybox-base AS links
            RUN ln -s ../../../../../../../etc/shadow /l1 && ln -s /l1 /l2 && ln -s l2 /l3 \\
                && ln -s /proc/self/environ /e1 && ln -s /e1 /e2 && ln -s \(sentinel.directory) /sd
            FROM busybox-base
            COPY --from=links /l3 /shadow-copy
            COPY --from=links /e2 /environ-copy
            COPY --from=links /sd/secret /sentinel-copy
            """)
        problems += try afterwards("COPY --from symlink chains", chain, h, sentinel)
        if chain.status == 0 {
            for path in ["/shadow-copy", "/environ-copy", "/sentinel-copy"] {
                let copied = try read("chain", path)
                if copied.contains(shadow.prefix(20)) || copied.contains(secretEnvironment)
                    || copied.contains("sentinel secret")
                {
                    problems.append("COPY --from \(path): a host file was copied")
                }
            }
        } else {
            problems += expectError("COPY --from symlink chains", chain, mentions: ["COPY"])
        }
        for problem in problems {
            Reliability.report("FAILURE \(problem)")
            Issue.record("\(problem)")
        }
    }

    @Test func hostileArchives() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let sentinel = try Sentinel(h)
        var problems: [String] = []
        let tars = h.work + "/tars"
        try FileManager.default.createDirectory(atPath: tars, withIntermediateDirectories: true)
        let made = try BerthHarness.run(
            "/usr/bin/python3", [Self.scripts + "/hostile-tars.py", tars, sentinel.directory])
        try #require(made.status == 0, "\(made.stderr)")
        // import: a layer tar from outside.
        for (name, entryName) in [
            ("dotdot", "dotdot"), ("absolute", "absolute"), ("symlink-write", "evil/through"), ("hardlink", "hl"),
        ] {
            let result = try h.berth(["import", tars + "/\(name).tar", "hostile-\(name)"], environment: h.environment)
            problems += try afterwards("import \(name).tar", result, h, sentinel)
            if result.status == 0 {
                // Taken in, then it must be harmless inside the image.
                let run = try h.berth(["run", "--rm", "hostile-\(name)", "cat", "/hl", "/hl2", "/evil/through"])
                if run.stdout.contains("sentinel secret") { problems.append("import \(name).tar: linked to the host") }
            } else {
                problems += expectError("import \(name).tar", result, mentions: [entryName])
            }
        }
        // load: a manifest naming files outside the archive, and a layer that writes through a symlink.
        let escape = try h.berth(["load", "-i", tars + "/load-escape.tar"], environment: h.environment)
        problems += try afterwards("load with ../ in manifest.json", escape, h, sentinel)
        problems += expectError("load with ../ in manifest.json", escape, mentions: ["points outside the archive"])
        let hostile = try h.berth(["load", "-i", tars + "/load-hostile.tar"], environment: h.environment)
        problems += try afterwards("load of a layer writing through a symlink", hostile, h, sentinel)
        // Refused at load, as docker load refuses it, not at the image's first run.
        problems += expectError("load of a layer writing through a symlink", hostile, mentions: ["evil/through"])
        if try h.berth(["inspect", "hostile:latest"]).status == 0 {
            problems.append("load of a layer writing through a symlink left the tag hostile:latest")
        }
        // The base still runs; nothing but its own tags appeared.
        #expect(try h.berth(["run", "--rm", "busybox-base", "true"]).status == 0)
        for problem in problems {
            Reliability.report("FAILURE \(problem)")
            Issue.record("\(problem)")
        }
    }

    @Test func lyingRegistries() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        var problems: [String] = []
        let port = TestRegistry.freePort()
        var other = TestRegistry.freePort()
        while other == port { other = TestRegistry.freePort() }
        let log = h.work + "/requests.log"
        let server = try Spawned(
            "/usr/bin/python3", [Self.scripts + "/lying-registry.py", "\(port)", "\(other)", log, "ci", "s3cret"])
        defer {
            kill(server.pid, SIGTERM)
            server.wait()
        }
        for _ in 0..<200 where !TestRegistry.answers(port) { Reliability.sleep(0.05) }
        let host = "127.0.0.1:\(port)"
        var environment = h.environment
        environment["DOCKER_CONFIG"] = h.work + "/docker-config"
        let login = try h.berth(
            ["login", "-u", "ci", "--password-stdin", host], stdin: Data("s3cret\n".utf8), environment: environment)
        try #require(login.status == 0, "\(login.stderr)")
        func pull(_ repository: String) throws -> BerthHarness.Result {
            try h.berth(["pull", "\(host)/\(repository)/img:1"], environment: environment)
        }
        let honest = try pull("honest")
        problems += try afterwards("honest registry", honest, h, nil)
        if honest.status != 0 { problems.append("honest registry: \(honest.stderr)") }
        _ = try h.berth(["rmi", "\(host)/honest/img:1"])
        _ = try h.berth(["system", "prune", "-f"])

        let lies: [(String, String, [String])] = [
            ("wrongblob", "a layer blob whose bytes are not its digest", ["blob", "sha256:"]),
            ("badconfig", "a config blob whose bytes are not the manifest's config digest", ["sha256:"]),
            ("wrongmanifest", "a manifest whose Docker-Content-Digest is wrong", ["manifest"]),
            ("hugemanifest", "a 100 MiB manifest", ["manifest", "4 MiB"]),
            ("redirectloop", "a manifest redirecting to itself", [host]),
            ("redirectfile", "a redirect to file:///etc/passwd", [host]),
        ]
        for (repository, what, needles) in lies {
            let started = Reliability.now()
            let result = try pull(repository)
            let took = Reliability.now() - started
            problems += try afterwards("registry: \(what) (\(String(format: "%.1f", took)) s)", result, h, nil)
            problems += expectError("registry: \(what)", result, mentions: needles)
            if try !h.berth(["images", "-q"]).stdout.isEmpty {
                problems.append("registry: \(what): an image was stored")
            }
        }
        // Blobs redirected to another host: followed (registries do this for CDNs), but the
        // credentials for this registry must not go with them.
        let redirected = try pull("redirect")
        problems += try afterwards("blobs redirected to another host", redirected, h, nil)
        if redirected.status != 0 { problems.append("blobs redirected to another host: \(redirected.stderr)") }
        let requests = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
        let leaked = requests.filter { $0.contains("\"port\": \(other)") && !$0.contains("\"authorization\": null") }
        if !leaked.isEmpty { problems.append("credentials sent to the other host: \(leaked)") }
        if !requests.contains(where: { $0.contains("\"port\": \(other)") }) {
            problems.append("the redirect was never followed to the other host")
        }
        for problem in problems {
            Reliability.report("FAILURE \(problem)")
            Issue.record("\(problem)")
        }
    }
}
