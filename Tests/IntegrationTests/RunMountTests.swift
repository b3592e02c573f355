import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `RUN --mount` of every type, `build --secret` and `build --ssh`, against the real binary.
@Suite(.serialized) struct RunMountTests {
    /// Builds `dockerfile` (with `files`) as `tag`; returns the result.
    private func build(
        _ h: BerthHarness, _ name: String, _ files: [String: String], tag: String, extra: [String] = [],
        environment: [String: String] = [:]
    ) throws -> BerthHarness.Result {
        let ctx = try h.context(name, files)
        return try h.berth(["build", "--progress", "plain", "-t", tag] + extra + [ctx], environment: environment)
    }

    private func output(_ h: BerthHarness, _ image: String, _ command: [String]) throws -> String {
        let run = try h.berth(["run", "--rm", image] + command)
        #expect(run.status == 0, "run \(command): \(run.stderr)")
        return run.stdout
    }

    @Test func cacheMountKeepsFilesAcrossBuildsAndStaysOutOfTheImage() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let first = try build(
            h, "cache1",
            [
                "Dockerfile":
                    "FROM busybox-base\nRUN --mount=type=cache,target=/var/cache/app,uid=7,mode=0750 echo first > /var/cache/app/left && stat -c '%u %a' /var/cache/app > /owner\n"
            ], tag: "cache1")
        #expect(first.status == 0, "first: \(first.stderr)")
        #expect(try output(h, "cache1", ["cat", "/owner"]) == "7 750\n")
        // A changed step, another build: it sees the file the first build left in the cache.
        let second = try build(
            h, "cache2",
            [
                "Dockerfile":
                    "FROM busybox-base\nRUN --mount=type=cache,target=/var/cache/app,uid=7,mode=0750 cat /var/cache/app/left > /seen; echo second >> /var/cache/app/left\n"
            ], tag: "cache2")
        #expect(second.status == 0, "second: \(second.stderr)")
        #expect(try output(h, "cache2", ["cat", "/seen"]) == "first\n")
        // Not in the image: the mount point itself was only a stub.
        let listing = try h.berth(["run", "--rm", "cache2", "ls", "-a", "/var/cache"])
        #expect(listing.status != 0 || !listing.stdout.contains("app"), "cache dir leaked: \(listing.stdout)")
        // Another id is another cache.
        let third = try build(
            h, "cache3",
            [
                "Dockerfile":
                    "FROM busybox-base\nRUN --mount=type=cache,id=other,target=/var/cache/app ls /var/cache/app > /listing\n"
            ], tag: "cache3")
        #expect(third.status == 0, "third: \(third.stderr)")
        #expect(try output(h, "cache3", ["cat", "/listing"]) == "")
        // Visible as build cache, removed by builder prune.
        let df = try h.berth(["system", "df"])
        #expect(df.status == 0)
        let mounts = (try? FileManager.default.contentsOfDirectory(atPath: h.root + "/cachemounts")) ?? []
        #expect(mounts.count == 2)
        let prune = try h.berth(["builder", "prune", "-f"])
        #expect(prune.status == 0, "prune: \(prune.stderr)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: h.root + "/cachemounts")) ?? []).isEmpty)
        let again = try build(
            h, "cache4",
            [
                "Dockerfile":
                    "FROM busybox-base\nRUN --mount=type=cache,target=/var/cache/app,uid=7,mode=0750 ls /var/cache/app > /after-prune\n"
            ], tag: "cache4")
        #expect(again.status == 0, "after prune: \(again.stderr)")
        #expect(try output(h, "cache4", ["cat", "/after-prune"]) == "")
        #expect(h.leakedMounts().isEmpty)
    }

    @Test func bindMountsFromTheContextAndFromAStage() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let files = [
            "Dockerfile": """
            FROM busybox-base AS tools
            RUN mkdir -p /out && echo from-stage > /out/s.txt
            FROM busybox-base
            WORKDIR /w
            RUN --mount=type=bind,source=conf/a.txt,target=/m/a.txt cat /m/a.txt > /from-context
            RUN --mount=from=tools,source=/out,target=rel cat rel/s.txt > /from-stage
            RUN --mount=type=bind,target=/ctx ls /ctx > /listing
            RUN --mount=from=busybox-base,source=/bin,target=/bb /bb/busybox echo image-ok > /from-image

            """,
            "conf/a.txt": "alpha\n",
            "ignored.txt": "no\n",
            ".dockerignore": "ignored.txt\n",
        ]
        let first = try build(h, "bind", files, tag: "bind1")
        #expect(first.status == 0, "build: \(first.stderr)")
        #expect(try output(h, "bind1", ["cat", "/from-context"]) == "alpha\n")
        #expect(try output(h, "bind1", ["cat", "/from-stage"]) == "from-stage\n")
        #expect(try output(h, "bind1", ["cat", "/from-image"]) == "image-ok\n")
        let listing = try output(h, "bind1", ["cat", "/listing"])
        #expect(listing.contains("conf") && listing.contains("Dockerfile"))
        #expect(!listing.contains("ignored.txt"), ".dockerignore not applied: \(listing)")
        // Mount points are gone from the image.
        #expect(
            try output(h, "bind1", ["ls", "-a", "/"]).split(separator: "\n").allSatisfy { !["m", "ctx"].contains($0) })
        #expect(try output(h, "bind1", ["ls", "-a", "/w"]) == ".\n..\n")

        // The bound file's content is in the key: a change re-runs that step.
        let cached = try build(h, "bind", files, tag: "bind1")
        #expect(cached.status == 0)
        func cachedCount(_ result: BerthHarness.Result) -> Int {
            result.stderr.split(separator: "\n").filter { $0.hasSuffix(" CACHED") }.count
        }
        #expect(cachedCount(cached) == 6, "\(cached.stderr)")
        var changed = files
        changed["conf/a.txt"] = "beta\n"
        let rebuilt = try build(h, "bind", changed, tag: "bind2")
        #expect(rebuilt.status == 0, "rebuild: \(rebuilt.stderr)")
        #expect(try output(h, "bind2", ["cat", "/from-context"]) == "beta\n")
        // The stage's RUN and WORKDIR stay cached; the step binding a.txt re-runs (and so do the
        // steps after it, whose parent changed).
        #expect(cachedCount(rebuilt) == 2, "\(rebuilt.stderr)")
        #expect(h.leakedMounts().isEmpty)
    }

    @Test func bindIsReadOnlyByDefaultAndRWWritesAreDiscarded() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let files = [
            "Dockerfile": """
            FROM busybox-base
            RUN --mount=type=bind,target=/ctx sh -c 'if echo x > /ctx/new 2>/dev/null; then echo writable; else echo read-only; fi' > /ro
            RUN --mount=type=bind,target=/ctx,rw echo changed >> /ctx/a.txt && touch /ctx/new && cat /ctx/a.txt > /rw
            RUN --mount=type=bind,source=a.txt,target=/f,rw echo more >> /f && cat /f > /rwfile

            """,
            "a.txt": "original\n",
        ]
        let result = try build(h, "rw", files, tag: "rw")
        #expect(result.status == 0, "build: \(result.stderr)")
        #expect(try output(h, "rw", ["cat", "/ro"]) == "read-only\n")
        #expect(try output(h, "rw", ["cat", "/rw"]) == "original\nchanged\n")
        #expect(try output(h, "rw", ["cat", "/rwfile"]) == "original\nmore\n")
        let ctx = h.work + "/rw"
        #expect(try String(contentsOfFile: ctx + "/a.txt", encoding: .utf8) == "original\n")
        #expect(!FileManager.default.fileExists(atPath: ctx + "/new"))
        let root = try output(h, "rw", ["ls", "-a", "/"])
        #expect(!root.split(separator: "\n").contains("ctx") && !root.split(separator: "\n").contains("f"))
        #expect(h.leakedMounts().isEmpty)
    }

    @Test func tmpfsMountWithSize() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let result = try build(
            h, "tmpfs",
            [
                "Dockerfile":
                    "FROM busybox-base\nRUN --mount=type=tmpfs,target=/scratch,size=1m grep ' /scratch ' /proc/mounts > /line && echo x > /scratch/f\n"
            ], tag: "tmpfs")
        #expect(result.status == 0, "build: \(result.stderr)")
        let line = try output(h, "tmpfs", ["cat", "/line"])
        #expect(line.hasPrefix("tmpfs /scratch tmpfs") && line.contains("size=1024k"), "mount line: \(line)")
        #expect(!(try output(h, "tmpfs", ["ls", "/"])).split(separator: "\n").contains("scratch"))
    }

    @Test func secretsReachTheRunAndNothingElse() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        var secret = [UInt8](repeating: 0, count: 48)
        for index in secret.indices { secret[index] = UInt8.random(in: 0...255) }
        let secretFile = h.work + "/secret.bin"
        try Data(secret).write(to: URL(fileURLWithPath: secretFile))
        let envSecret = (0..<4).map { _ in UUID().uuidString }.joined()
        let files = [
            "Dockerfile": """
            FROM busybox-base
            RUN --mount=type=secret,id=blob sha256sum /run/secrets/blob | cut -d' ' -f1 > /blob.sum && stat -c '%a %u' /run/secrets/blob > /blob.mode
            RUN --mount=type=secret,id=tok,env=TOKEN,required printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1 > /tok.sum
            RUN --mount=type=secret,id=blob,target=/etc/key,mode=0440,uid=5 stat -c '%a %u' /etc/key > /key.mode
            RUN --mount=type=secret,id=absent ls /run/secrets > /absent 2>&1 || true

            """
        ]
        let result = try build(
            h, "secret", files, tag: "secret",
            extra: ["--secret", "id=blob,src=\(secretFile)", "--secret", "id=tok,env=MY_TOKEN"],
            environment: ["MY_TOKEN": envSecret])
        #expect(result.status == 0, "build: \(result.stderr)")
        let expected = try BerthHarness.run("/usr/bin/sha256sum", [secretFile]).stdout.prefix(64)
        #expect(try output(h, "secret", ["cat", "/blob.sum"]) == expected + "\n")
        #expect(try output(h, "secret", ["cat", "/blob.mode"]) == "400 0\n")
        #expect(try output(h, "secret", ["cat", "/key.mode"]) == "440 5\n")
        let envSum = try BerthHarness.run(
            "/bin/sh", ["-c", "printf '%s' \"$S\" | sha256sum"], environment: ["S": envSecret])
        #expect(try output(h, "secret", ["cat", "/tok.sum"]) == String(envSum.stdout.prefix(64)) + "\n")
        #expect(!(try output(h, "secret", ["ls", "/"])).split(separator: "\n").contains("run"))
        // Whatever else berth wrote, the secret is nowhere: not in the store (database, WAL,
        // blobs, snapshots, cache records), not in the build output, not in a saved image.
        let saved = try h.berth(["save", "-o", h.work + "/secret.tar", "secret"])
        #expect(saved.status == 0)
        let needles = [Data(secret), Data(envSecret.utf8)]
        var scanned = 0
        for path in [h.root, h.work + "/secret.tar"] {
            for file in Self.regularFiles(under: path) {
                guard let contents = FileManager.default.contents(atPath: file) else { continue }
                scanned += 1
                for needle in needles { #expect(contents.range(of: needle) == nil, "secret found in \(file)") }
            }
        }
        #expect(scanned > 10)
        for needle in needles {
            #expect(Data((result.stdout + result.stderr).utf8).range(of: needle) == nil)
        }
        // A rebuild with another secret value is fully cached: the value is not in the key.
        var other = secret
        other[0] ^= 0xff
        try Data(other).write(to: URL(fileURLWithPath: secretFile))
        let again = try build(
            h, "secret", files, tag: "secret",
            extra: ["--secret", "id=blob,src=\(secretFile)", "--secret", "id=tok,env=MY_TOKEN"],
            environment: ["MY_TOKEN": "different"])
        #expect(again.status == 0)
        #expect(again.stderr.split(separator: "\n").filter { $0.hasSuffix("CACHED") }.count == 4, "\(again.stderr)")
        // required and missing: a clear error.
        let missing = try build(
            h, "secret-missing",
            [
                "Dockerfile":
                    "FROM busybox-base\nRUN --mount=type=secret,id=needed,required=true cat /run/secrets/needed\n"
            ],
            tag: "missing")
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("secret needed: not provided"), "\(missing.stderr)")
        #expect(h.leakedMounts().isEmpty)
    }

    @Test func sshAgentIsForwarded() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh-agent"),
            FileManager.default.isExecutableFile(atPath: "/usr/bin/cc")
        else {
            print("skipping: ssh-agent or cc missing (apt-get install openssh-client gcc)")
            return
        }
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let ctx = h.work + "/ssh"
        try FileManager.default.createDirectory(atPath: ctx, withIntermediateDirectories: true)
        // A static client that asks the agent for its identities (SSH2_AGENTC_REQUEST_IDENTITIES)
        // and prints how many there are and their comments.
        try Self.agentClient.write(toFile: h.work + "/agent-list.c", atomically: false, encoding: .utf8)
        let cc = try BerthHarness.run(
            "/usr/bin/cc", ["-static", "-O2", "-o", ctx + "/agent-list", h.work + "/agent-list.c"])
        #expect(cc.status == 0, "cc: \(cc.stderr)")
        let socket = h.work + "/agent.sock"
        let agent = try Spawned("/usr/bin/ssh-agent", ["-D", "-a", socket])
        defer {
            kill(agent.pid, SIGTERM)
            _ = agent.wait()
        }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { usleep(50_000) }
        let comment = "berth-test-" + UUID().uuidString.prefix(8)
        let key = h.work + "/id_ed25519"
        let keygen = try BerthHarness.run(
            "/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", key])
        #expect(keygen.status == 0, "ssh-keygen: \(keygen.stderr)")
        let add = try BerthHarness.run("/usr/bin/ssh-add", [key], environment: ["SSH_AUTH_SOCK": socket])
        #expect(add.status == 0, "ssh-add: \(add.stderr)")
        try """
        FROM busybox-base
        RUN --mount=type=bind,source=agent-list,target=/agent-list --mount=type=ssh /agent-list > /default.txt && echo "$SSH_AUTH_SOCK" >> /default.txt
        RUN --mount=type=bind,source=agent-list,target=/agent-list --mount=type=ssh,id=deploy,target=/sock,required SSH_AUTH_SOCK=/sock /agent-list > /deploy.txt
        USER 1000:1000
        RUN --mount=type=bind,source=agent-list,target=/agent-list --mount=type=ssh,uid=1000 stat -c '%a %u' $SSH_AUTH_SOCK > /tmp/user.txt && /agent-list >> /tmp/user.txt

        """.write(toFile: ctx + "/Dockerfile", atomically: false, encoding: .utf8)
        let result = try h.berth(
            ["build", "--progress", "plain", "-t", "ssh", "--ssh", "default", "--ssh", "deploy=\(socket)", ctx],
            environment: ["SSH_AUTH_SOCK": socket])
        #expect(result.status == 0, "build: \(result.stderr)")
        #expect(
            try output(h, "ssh", ["cat", "/default.txt"]) == "identities 1\n\(comment)\n/run/buildkit/ssh_agent.0\n")
        #expect(try output(h, "ssh", ["cat", "/deploy.txt"]) == "identities 1\n\(comment)\n")
        // uid= gives a non-root user its own socket (mode 0600 by default).
        #expect(try output(h, "ssh", ["cat", "/tmp/user.txt"]) == "600 1000\nidentities 1\n\(comment)\n")
        #expect(!(try output(h, "ssh", ["ls", "/"])).split(separator: "\n").contains("sock"))
        // required and not given: an error naming the id.
        let missing = try h.berth(
            ["build", "--progress", "plain", "-t", "ssh2", "--no-cache", "--ssh", "default", ctx],
            environment: ["SSH_AUTH_SOCK": socket])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("ssh agent deploy: not provided"), "\(missing.stderr)")
        // A key file: berth loads it into an agent of its own for the build, then stops it.
        let keyed = h.work + "/keyed"
        try FileManager.default.createDirectory(atPath: keyed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: ctx + "/agent-list", toPath: keyed + "/agent-list")
        try """
        FROM busybox-base
        RUN --mount=type=bind,source=agent-list,target=/agent-list --mount=type=ssh,id=key,required /agent-list > /key.txt

        """.write(toFile: keyed + "/Dockerfile", atomically: false, encoding: .utf8)
        /// The socket directories ssh-agents made in /tmp.
        func agentDirectories() -> Set<String> {
            Set((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []).filter { $0.hasPrefix("ssh-") }
        }
        let before = agentDirectories()
        let fromKey = try h.berth(["build", "--progress", "plain", "-t", "keyed", "--ssh", "key=\(key)", keyed])
        #expect(fromKey.status == 0, "\(fromKey.stderr)")
        #expect(try output(h, "keyed", ["cat", "/key.txt"]) == "identities 1\n\(comment)\n")
        #expect(agentDirectories().subtracting(before).isEmpty, "agent directory left behind")
        #expect(h.leakedMounts().isEmpty)

        // A SIGKILLed berth cannot stop its agent, which holds the key: the agent's lifeline
        // closes with berth, and it exits (within its 10-second check), removing its directory.
        try """
        FROM busybox-base
        RUN --mount=type=ssh,id=key,required sleep 60

        """.write(toFile: keyed + "/Dockerfile", atomically: false, encoding: .utf8)
        let killed = try Spawned(
            BerthHarness.binary, ["--root", h.root, "build", "--progress", "plain", "--ssh", "key=\(key)", keyed])
        var started = Set<String>()
        for _ in 0..<200 where started.isEmpty {
            usleep(100_000)
            started = agentDirectories().subtracting(before)
        }
        #expect(!started.isEmpty, "berth started no agent")
        usleep(1_000_000)
        kill(killed.pid, SIGKILL)
        _ = killed.wait()
        var left = started
        for _ in 0..<250 where !left.isEmpty {
            usleep(100_000)
            left = started.intersection(agentDirectories())
        }
        #expect(left.isEmpty, "the agent outlived a SIGKILLed berth: \(left)")
        #expect(try h.berth(["system", "check", "--repair"]).status == 0)
    }

    @Test func badMountNamesTheLine() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let result = try build(
            h, "bad",
            [
                "Dockerfile":
                    "FROM busybox-base\nRUN echo fine > /fine\n\nRUN --mount=type=cache,target=/c,colour=blue true\n"
            ],
            tag: "bad")
        #expect(result.status != 0)
        #expect(result.stderr.contains("Dockerfile:4:"), "\(result.stderr)")
        #expect(result.stderr.contains("unexpected key 'colour'"), "\(result.stderr)")
        // Reported before anything ran.
        #expect(!result.stderr.contains("DONE"), "\(result.stderr)")
        let noTarget = try build(
            h, "bad2", ["Dockerfile": "FROM busybox-base\nRUN --mount=type=tmpfs true\n"], tag: "bad2")
        #expect(noTarget.status != 0)
        #expect(noTarget.stderr.contains("Dockerfile:2:") && noTarget.stderr.contains("target"), "\(noTarget.stderr)")
        let badSource = try build(
            h, "bad3", ["Dockerfile": "FROM busybox-base\nRUN --mount=source=missing.txt,target=/m true\n"], tag: "bad3"
        )
        #expect(badSource.status != 0)
        #expect(badSource.stderr.contains("\"/missing.txt\" not found in the build context"), "\(badSource.stderr)")
        let escape = try build(
            h, "bad4", ["Dockerfile": "FROM busybox-base\nRUN --mount=source=../../../etc,target=/m ls /m/passwd\n"],
            tag: "bad4")
        #expect(escape.status != 0, "a source outside the context must not be bound")
    }

    static func regularFiles(under path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [path] }
        var files: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: path)
        while let relative = enumerator?.nextObject() as? String {
            let full = path + "/" + relative
            var st = stat()
            if lstat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { files.append(full) }
        }
        return files
    }

    static let agentClient = #"""
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/socket.h>
        #include <sys/un.h>
        #include <unistd.h>
        static int readall(int fd, unsigned char *buf, size_t n) {
            size_t got = 0;
            while (got < n) { ssize_t r = read(fd, buf + got, n - got); if (r <= 0) return -1; got += r; }
            return 0;
        }
        static unsigned u32(const unsigned char *p) { return (unsigned)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
        int main(void) {
            const char *path = getenv("SSH_AUTH_SOCK");
            if (!path) { fprintf(stderr, "no SSH_AUTH_SOCK\n"); return 2; }
            int fd = socket(AF_UNIX, SOCK_STREAM, 0);
            struct sockaddr_un addr = { .sun_family = AF_UNIX };
            strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
            if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("connect"); return 3; }
            unsigned char request[5] = {0, 0, 0, 1, 11};
            if (write(fd, request, 5) != 5) { perror("write"); return 4; }
            unsigned char header[4];
            if (readall(fd, header, 4)) return 5;
            unsigned len = u32(header);
            unsigned char *body = malloc(len);
            if (!body || readall(fd, body, len) || len < 5 || body[0] != 12) return 6;
            unsigned count = u32(body + 1), off = 5;
            printf("identities %u\n", count);
            for (unsigned i = 0; i < count && off + 4 <= len; i++) {
                off += 4 + u32(body + off);
                unsigned clen = u32(body + off);
                printf("%.*s\n", (int)clen, body + off + 4);
                off += 4 + clen;
            }
            return 0;
        }
        """#
}
