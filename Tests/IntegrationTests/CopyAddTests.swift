import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// COPY and ADD: ownership, archives, URLs, --exclude, --parents and --link. Where docker's
/// BuildKit (20.10) supports a feature, berth's result is compared with the docker-built image's
/// file system; otherwise with the behaviour the Dockerfile reference documents.
@Suite(.serialized) struct CopyAddTests {
    /// Writes the tar fixtures: one archive in every compression, plus files that only look like one.
    static func writeArchives(_ dir: String) throws {
        let script = """
            import tarfile, io, gzip, bz2, lzma, subprocess, sys
            d = sys.argv[1]
            def make(path, mode):
                with tarfile.open(path, mode) as t:
                    def add(name, kind, perm, uid, gid, data=b'', link=''):
                        i = tarfile.TarInfo(name); i.type = kind; i.mode = perm; i.uid = uid; i.gid = gid
                        i.mtime = 1600000000; i.linkname = link; i.size = len(data)
                        t.addfile(i, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
                    add('t', tarfile.DIRTYPE, 0o750, 5, 6)
                    add('t/a', tarfile.REGTYPE, 0o640, 7, 8, b'archive member\\n')
                    add('t/l', tarfile.SYMTYPE, 0o777, 0, 0, link='a')
                    add('t/h', tarfile.LNKTYPE, 0o640, 7, 8, link='t/a')
                    add('top.txt', tarfile.REGTYPE, 0o4755, 0, 0, b'top\\n')
            make(d + '/plain.tar', 'w')
            make(d + '/arch.tar.gz', 'w:gz')
            make(d + '/arch.tar.bz2', 'w:bz2')
            make(d + '/arch.tar.xz', 'w:xz')
            make(d + '/zst.tmp', 'w')
            subprocess.run(['zstd', '-q', '-f', d + '/zst.tmp', '-o', d + '/named-anything'], check=True)
            open(d + '/notatar.tar.gz', 'w').write('not an archive\\n')
            open(d + '/text.gz', 'wb').write(gzip.compress(b'compressed text, not a tar\\n', mtime=0))
            """
        let path = dir + "/make-archives.py"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try script.write(toFile: path, atomically: false, encoding: .utf8)
        let result = try BerthHarness.run("/usr/bin/python3", [path, dir])
        #expect(result.status == 0, "fixtures: \(result.stderr)")
        unlink(path)
        unlink(dir + "/zst.tmp")
    }

    @Test func ownershipAndArchivesMatchDocker() throws {
        guard BerthHarness.dockerAvailable else {
            print("CopyAddTests: docker comparison skipped (no docker daemon)")
            return
        }
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let ctx = try h.context(
            "own",
            [
                "Dockerfile": """
                ARG BASE
                FROM $BASE
                RUN mkdir -p /tgt && echo 'app:x:1234:2345::/:/bin/sh' >> /etc/passwd && echo 'grp:x:3456:' >> /etc/group
                COPY --chown=1000:1000 f /a/b/c/
                COPY --chown=1000:1000 sub /s1/x/
                COPY --chown=app f /n1/
                COPY --chown=app:grp f /n2/
                COPY --chown=1234 f /n3/
                COPY --chown=1000 f /tgt/new/
                COPY --chown=1000:1000 f /m2/renamed
                USER 1000:1000
                WORKDIR /w/x/y
                USER app
                WORKDIR /w2/z
                USER 1234
                WORKDIR /w3
                USER app:grp
                WORKDIR /w4
                USER nosuchuser
                WORKDIR /w6
                USER 1000:nosuchgroup
                WORKDIR /w7
                USER daemon:nosuchgroup
                WORKDIR /w8
                USER root
                WORKDIR /w5
                COPY --chown=nosuchuser f /n4/
                ADD plain.tar /x1/
                ADD arch.tar.gz /x2
                ADD arch.tar.bz2 arch.tar.xz /x3/
                ADD --chown=1000:1000 plain.tar /x4/
                ADD notatar.tar.gz text.gz /x5/
                ADD --chown=app f /x6/

                """,
                "f": "f\n", "sub/g": "g\n", "sub/deep/h": "h\n",
            ])
        chmod(ctx + "/sub/g", 0o640)
        try Self.writeArchives(ctx)
        let prefixes =
            ["a", "s1", "n1", "n2", "n3", "tgt", "m2", "w", "w2", "w3", "w4", "w5"]
            + ["x1", "x2", "x3", "x4", "x5", "x6"]
        let berth = try FileSystemListing.berth(h, context: ctx, prefixes: prefixes, mtimes: true)
        let docker = try FileSystemListing.docker(h, context: ctx, prefixes: prefixes, mtimes: true)
        #expect(!berth.isEmpty)
        #expect(berth == docker, "berth:\n\(berth)\ndocker:\n\(docker)")
    }

    @Test func zstdArchiveIsDetectedByContent() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let ctx = try h.context("zst", ["Dockerfile": "FROM busybox-base\nADD named-anything /z/\n"])
        try Self.writeArchives(ctx)
        let listing = try FileSystemListing.berth(h, context: ctx, prefixes: ["z"])
        #expect(listing.contains("z/t/a f 0o640 7:8"), "\(listing)")
        #expect(listing.contains("z/t/l l 0o777 0:0 a"), "\(listing)")
        #expect(listing.contains("z/top.txt f 0o4755 0:0"), "\(listing)")
    }

    @Test func archiveEntriesCannotEscapeTheDestination() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let ctx = try h.context("escape", ["Dockerfile": "FROM busybox-base\nADD evil.tar /dst/\n"])
        let script = """
            import tarfile, io, sys
            with tarfile.open(sys.argv[1], 'w') as t:
                i = tarfile.TarInfo('link'); i.type = tarfile.SYMTYPE; i.linkname = '/etc'; t.addfile(i)
                data = b'owned\\n'
                i = tarfile.TarInfo('link/passwd'); i.size = len(data); t.addfile(i, io.BytesIO(data))
            """
        try script.write(toFile: h.work + "/evil.py", atomically: false, encoding: .utf8)
        #expect(try BerthHarness.run("/usr/bin/python3", [h.work + "/evil.py", ctx + "/evil.tar"]).status == 0)
        let build = try h.berth(["build", "-q", "-t", "evil", ctx])
        #expect(build.status != 0)
        #expect(build.stderr.contains("evil.tar"), "\(build.stderr)")
        let passwd = try h.berth(["run", "--rm", "busybox-base", "cat", "/etc/passwd"])
        #expect(!passwd.stdout.contains("owned"))
    }

    /// A python3 http.server on 127.0.0.1 on a free port, serving `directory`.
    final class FileServer {
        let process: Spawned
        let port: Int

        init(directory: String) throws {
            let script = """
                import http.server, socketserver, sys, functools, os
                handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
                server = socketserver.TCPServer(('127.0.0.1', 0), handler)
                print(server.server_address[1], flush=True)
                server.serve_forever()
                """
            let path = directory + "/../serve.py"
            try script.write(toFile: path, atomically: false, encoding: .utf8)
            process = try Spawned("/usr/bin/python3", [path, directory], captureOutput: true)
            var found: Int?
            for _ in 0..<100 {
                if let line = process.stdout.split(separator: "\n").first, let value = Int(line) {
                    found = value
                    break
                }
                usleep(50_000)
            }
            guard let found else {
                kill(process.pid, SIGKILL)
                process.wait()
                throw POSIXError(.ETIMEDOUT)
            }
            port = found
        }

        func stop() {
            kill(process.pid, SIGTERM)
            process.wait()
        }
    }

    @Test func addURLMatchesDockerAndChecksums() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let served = h.work + "/served/dl"
        try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
        try "downloaded\n".write(toFile: served + "/file.txt", atomically: false, encoding: .utf8)
        try Self.writeArchives(served)
        var times = [timespec(tv_sec: 1_500_000_000, tv_nsec: 0), timespec(tv_sec: 1_500_000_000, tv_nsec: 0)]
        utimensat(AT_FDCWD, served + "/file.txt", &times, 0)
        let server = try FileServer(directory: h.work + "/served")
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)/dl"
        let ctx = try h.context(
            "url",
            [
                "Dockerfile": """
                ARG BASE
                FROM $BASE
                ARG URL
                ADD $URL/file.txt /u1/
                ADD $URL/file.txt /u2/renamed
                ADD --chown=1000:1000 $URL/arch.tar.gz /u3/

                """
            ])
        let prefixes = ["u1", "u2", "u3"]
        let berth = try FileSystemListing.berth(
            h, context: ctx, prefixes: prefixes, mtimes: true, extra: ["--build-arg", "URL=\(url)"])
        #expect(berth.contains("u1/file.txt f 0o600 0:0"), "\(berth)")
        #expect(berth.contains("mtime=1500000000"), "\(berth)")
        #expect(berth.contains("u3/arch.tar.gz f 0o600 1000:1000"), "\(berth)")
        if BerthHarness.dockerAvailable {
            let docker = try FileSystemListing.docker(
                h, context: ctx, prefixes: prefixes, mtimes: true, extra: ["--build-arg", "URL=\(url)"])
            #expect(berth == docker, "berth:\n\(berth)\ndocker:\n\(docker)")
        }

        // --checksum: verified; a mismatch names the URL. Keyed by the checksum or the content.
        let digest = try BerthHarness.run("/usr/bin/sha256sum", [served + "/file.txt"]).stdout.prefix(64)
        let sums = try h.context(
            "sums",
            [
                "Dockerfile": "FROM busybox-base\nADD --checksum=sha256:\(digest) \(url)/file.txt /c/\n",
                "bad/Dockerfile":
                    "FROM busybox-base\nADD --checksum=sha256:\(String(repeating: "0", count: 64)) \(url)/file.txt /c/\n",
                "plain/Dockerfile": "FROM busybox-base\nADD \(url)/file.txt /c/\nRUN cat /c/file.txt\n",
                "local/Dockerfile": "FROM busybox-base\nADD --checksum=sha256:\(digest) file.txt /c/\n",
                "local/file.txt": "downloaded\n",
            ])
        let good = try h.berth(["build", "--progress", "plain", "-t", "sum", sums])
        #expect(good.status == 0, "\(good.stderr)")
        let bad = try h.berth(["build", "--progress", "plain", "-t", "sum", sums + "/bad"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("\(url)/file.txt") && bad.stderr.contains("checksum"), "\(bad.stderr)")
        let local = try h.berth(["build", "-q", "-t", "local", sums + "/local"])
        #expect(local.status != 0 && local.stderr.contains("only HTTP(S) sources"), "\(local.stderr)")
        let first = try h.berth(["build", "--progress", "plain", "-t", "plain", sums + "/plain"])
        #expect(first.status == 0, "\(first.stderr)")
        let again = try h.berth(["build", "--progress", "plain", "-t", "plain", sums + "/plain"])
        #expect(again.stderr.split(separator: "\n").filter { $0.hasSuffix(" CACHED") }.count == 2, "\(again.stderr)")
        try "changed\n".write(toFile: served + "/file.txt", atomically: false, encoding: .utf8)
        let changed = try h.berth(["build", "--progress", "plain", "-t", "plain", sums + "/plain"])
        #expect(!changed.stderr.contains("CACHED"), "\(changed.stderr)")
        let run = try h.berth(["run", "--rm", "plain", "cat", "/c/file.txt"])
        #expect(run.stdout == "changed\n")
    }

    @Test func excludeAndParentsFollowTheDockerfileReference() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let ctx = try h.context(
            "exparents",
            [
                "Dockerfile": """
                FROM busybox-base
                COPY --exclude=*.txt hom* /e1/
                ADD --exclude=**/*.txt hom /e3/
                COPY --exclude=*.md --exclude=sub hom /e2/
                COPY --parents x/y/file /p1/
                COPY --parents ./x/./y/file /p2/
                COPY --parents x/*/z /p3/
                COPY --parents --exclude=z/g x/./y /p4

                """,
                "hom/a.txt": "a\n", "hom/b.md": "b\n", "hom/sub/c.txt": "c\n", "hom/sub/d.go": "d\n",
                "home.txt": "home\n", "homer.go": "homer\n", "x/y/file": "file\n", "x/y/z/g": "g\n",
            ])
        let listing = try FileSystemListing.berth(
            h, context: ctx, prefixes: ["e1", "e2", "e3", "p1", "p2", "p3", "p4"])
        let paths = listing.split(separator: "\n").map { String($0.split(separator: " ")[0]) }
        #expect(
            paths == [
                "e1", "e1/b.md", "e1/homer.go", "e1/sub", "e1/sub/c.txt", "e1/sub/d.go",
                "e2", "e2/a.txt",
                "e3", "e3/b.md", "e3/sub", "e3/sub/d.go",
                "p1", "p1/x", "p1/x/y", "p1/x/y/file",
                "p2", "p2/y", "p2/y/file",
                "p3", "p3/x", "p3/x/y", "p3/x/y/z", "p3/x/y/z/g",
                "p4", "p4/y", "p4/y/file", "p4/y/z",
            ], "\(listing)")

        // An excluded file is not hashed: changing it keeps the step cached.
        let first = try h.berth(["build", "--progress", "plain", "-t", "ex", ctx])
        #expect(first.status == 0)
        try "changed\n".write(toFile: ctx + "/hom/a.txt", atomically: false, encoding: .utf8)
        let second = try h.berth(["build", "--progress", "plain", "-t", "ex", ctx])
        #expect(Self.cached(second.stderr, "COPY --exclude=*.txt hom*"), "\(second.stderr)")
        #expect(Self.cached(second.stderr, "ADD --exclude=**/*.txt hom"), "\(second.stderr)")
        #expect(!Self.cached(second.stderr, "COPY --exclude=*.md"), "\(second.stderr)")
    }

    /// A selected source that is a symlink is followed inside the context (BuildKit's
    /// FollowSymlinks): `COPY link /a` copies the file `link` points to, under the name the
    /// destination gives; symlinks inside a copied directory stay symlinks; a link that leaves the
    /// context is not found. The cache key follows the link too.
    @Test func selectedSymlinksAreFollowedInsideTheContext() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let ctx = try h.context(
            "symlinks",
            [
                "Dockerfile": """
                ARG BASE
                FROM $BASE
                COPY link /a
                COPY dirlink /b/
                COPY link dir/ /d/
                COPY abs /f

                """,
                "file": "hello\n", "dir/sub/f": "inner\n",
            ])
        for (target, name) in [("file", "link"), ("sub", "dir/sublink"), ("dir", "dirlink"), ("/file", "abs")] {
            #expect(symlink(target, ctx + "/" + name) == 0)
        }
        let prefixes = ["a", "b", "d", "f"]
        let berth = try FileSystemListing.berth(h, context: ctx, prefixes: prefixes)
        #expect(berth.contains("a f 0o644 0:0 "), "\(berth)")
        #expect(berth.contains("d/link f 0o644 0:0 "), "\(berth)")
        #expect(berth.contains("b/sublink l 0o777 0:0 sub"), "\(berth)")
        if BerthHarness.dockerAvailable {
            let docker = try FileSystemListing.docker(h, context: ctx, prefixes: prefixes)
            #expect(berth == docker, "berth:\n\(berth)\ndocker:\n\(docker)")
        } else {
            print("CopyAddTests: docker comparison skipped (no docker daemon)")
        }

        // The key is the target's content: changing the file re-runs `COPY link /a`.
        #expect(
            try h.berth(["build", "--progress", "plain", "--build-arg", "BASE=busybox-base", "-t", "s", ctx]).status
                == 0)
        try "changed\n".write(toFile: ctx + "/file", atomically: false, encoding: .utf8)
        let again = try h.berth(["build", "--progress", "plain", "--build-arg", "BASE=busybox-base", "-t", "s", ctx])
        #expect(again.status == 0)
        #expect(!Self.cached(again.stderr, "COPY link /a"), "\(again.stderr)")
        let unchanged = try h.berth([
            "build", "--progress", "plain", "--build-arg", "BASE=busybox-base", "-t", "s", ctx,
        ])
        #expect(Self.cached(unchanged.stderr, "COPY link /a"), "\(unchanged.stderr)")

        // Out of the context: not found, as BuildKit says.
        #expect(symlink("../outside", ctx + "/esc") == 0)
        try "ARG BASE\nFROM $BASE\nCOPY esc /e\n".write(toFile: ctx + "/Dockerfile", atomically: false, encoding: .utf8)
        let escaped = try h.berth(["build", "--build-arg", "BASE=busybox-base", ctx])
        #expect(escaped.status == 1)
        #expect(escaped.stderr.contains("\"esc\" not found in the build context"), "\(escaped.stderr)")
    }

    /// Whether the plain-progress step titled `title` was answered from the cache.
    static func cached(_ progress: String, _ title: String) -> Bool {
        let lines = progress.split(separator: "\n")
        guard let line = lines.first(where: { $0.hasPrefix("#") && $0.contains("] " + title) }),
            let number = line.split(separator: " ").first
        else { return false }
        return lines.contains("\(number) CACHED")
    }

    @Test func onlySelectedFilesAreRead() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let ctx = try h.context(
            "selected",
            [
                "Dockerfile": "FROM busybox-base\nCOPY small /\nCOPY --exclude=skip.bin dir /d/\n",
                "small": "s\n", "big/unrelated": "u\n", "dir/keep": "k\n", "dir/skip.bin": "x\n",
            ])
        #expect(try h.berth(["build", "-q", "-t", "sel", ctx]).status == 0)
        // Every file berth reads for a content hash lands in the store's stat cache.
        let query = try BerthHarness.run(
            "/usr/bin/python3",
            [
                "-c",
                // One row per directory; its blob holds `u16 length | name | 32 bytes of stat
                // fields | 32 bytes of digest` per file.
                """
                import sqlite3, sys
                paths = []
                for directory, blob in sqlite3.connect(sys.argv[1]).execute('select path, records from stat_directories'):
                    offset = 0
                    while offset < len(blob):
                        length = blob[offset] | blob[offset + 1] << 8
                        paths.append(directory + '/' + blob[offset + 2:offset + 2 + length].decode())
                        offset += 2 + length + 64
                print('\\n'.join(sorted(paths)))
                """,
                h.root + "/berth.db",
            ])
        #expect(query.status == 0, "\(query.stderr)")
        let read = query.stdout.split(separator: "\n").map { String($0.dropFirst(ctx.count + 1)) }
        #expect(read == ["dir/keep", "small"], "\(query.stdout)")
    }

    @Test func linkMakesAnIndependentLayer() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let ctx = try h.context(
            "link",
            [
                "Dockerfile": """
                FROM busybox-base
                ARG V=1
                RUN mkdir /tgt && ln -s /tgt /lnk && echo $V > /v
                COPY f /lnk/viacopy
                COPY --link f /lnk/vialink
                COPY --link --chown=daemon f /la/lb/
                COPY --link sub /ls/

                """,
                "f": "f\n", "sub/g": "g\n",
            ])
        let listing = try FileSystemListing.berth(h, context: ctx, prefixes: ["lnk", "tgt", "la", "ls"])
        let rows = listing.split(separator: "\n").map { $0.split(separator: " ").prefix(4).joined(separator: " ") }
        #expect(
            rows == [
                "la d 0o755 1:1", "la/lb d 0o755 1:1", "la/lb/f f 0o644 1:1",
                "lnk d 0o755 0:0", "lnk/vialink f 0o644 0:0",
                "ls d 0o755 0:0", "ls/g f 0o644 0:0",
                "tgt d 0o755 0:0", "tgt/viacopy f 0o644 0:0",
            ], "\(listing)")

        // A changed base below keeps the --link layers byte for byte.
        func layers(_ tag: String) throws -> [String] { try h.layers(of: tag) }
        #expect(try h.berth(["build", "-q", "-t", "l1", ctx]).status == 0)
        let rebuilt = try h.berth(["build", "--progress", "plain", "--build-arg", "V=2", "-t", "l2", ctx])
        #expect(rebuilt.status == 0, "\(rebuilt.stderr)")
        let one = try layers("l1")
        let two = try layers("l2")
        #expect(one.count == two.count && one.count >= 4)
        #expect(one.suffix(3) == two.suffix(3), "link layers differ:\n\(one)\n\(two)")
        #expect(one[one.count - 5] != two[two.count - 5])
        let again = try h.berth(["build", "--progress", "plain", "--build-arg", "V=2", "-t", "l2", ctx])
        #expect(again.stderr.split(separator: "\n").filter { $0.hasSuffix(" CACHED") }.count == 5, "\(again.stderr)")
    }

    /// A rebuild after one file changed links the unchanged files from the previous build's COPY
    /// snapshot (same inode) and copies the rest; the layer is byte for byte the one a build
    /// without cache makes, and the image holds the new content.
    @Test func unchangedFilesAreLinkedFromThePreviousCopy() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let ctx = try h.context(
            "relink",
            [
                // WORKDIR makes /app an empty directory below: the copy goes into its copy-up.
                "Dockerfile": "FROM busybox-base\nWORKDIR /app\nCOPY tree .\nCOPY tree /fresh/\nRUN cat /app/a/x\n",
                "tree/a/x": "one\n", "tree/a/y": "same\n", "tree/b/z": "zed\n", "tree/b/w": "w\n",
            ].merging((0..<300).map { ("tree/many/f\($0)", "\($0)\n") }) { a, _ in a })  // placed on several threads
        func layers(_ tag: String) throws -> [String] { try h.layers(of: tag) }
        /// Inodes of `path` in every snapshot that has it.
        func inodes(_ path: String) -> [UInt64] {
            let ids = (try? FileManager.default.contentsOfDirectory(atPath: h.root + "/snapshots")) ?? []
            return ids.sorted().compactMap { id in
                var st = stat()
                return lstat(h.root + "/snapshots/\(id)/fs/" + path, &st) == 0 ? UInt64(st.st_ino) : nil
            }
        }
        #expect(try h.berth(["build", "-q", "-t", "one", ctx]).status == 0)
        try "two\n".write(toFile: ctx + "/tree/a/x", atomically: false, encoding: .utf8)
        #expect(chmod(ctx + "/tree/b/w", 0o600) == 0)
        let two = try h.berth(["build", "--progress", "plain", "-t", "two", ctx])
        #expect(two.status == 0, "\(two.stderr)")
        #expect(two.stderr.contains("two"), "the RUN did not see the new content: \(two.stderr)")
        for dir in ["app", "fresh"] {
            let same = inodes(dir + "/a/y")
            #expect(same.count == 2 && same[0] == same[1], "\(dir)/a/y not linked: \(same)")
            let sameToo = inodes(dir + "/b/z")
            #expect(sameToo.count == 2 && sameToo[0] == sameToo[1], "\(dir)/b/z not linked: \(sameToo)")
            let changed = inodes(dir + "/a/x")
            #expect(changed.count == 2 && changed[0] != changed[1], "\(dir)/a/x was linked: \(changed)")
            let many = inodes(dir + "/many/f299")
            #expect(many.count == 2 && many[0] == many[1], "\(dir)/many/f299 not linked: \(many)")
            let modeChanged = inodes(dir + "/b/w")
            #expect(modeChanged.count == 2 && modeChanged[0] != modeChanged[1], "\(dir)/b/w was linked")
        }
        // The same COPY layers as a build that copies everything (base, WORKDIR, COPY, COPY,
        // RUN: WORKDIR's and RUN's carry the time they ran).
        let fresh = try h.berth(["build", "-q", "--no-cache", "-t", "three", ctx])
        #expect(fresh.status == 0, "\(fresh.stderr)")
        let linked = try layers("two")
        let copied = try layers("three")
        #expect(linked.count == 5 && copied.count == 5)
        #expect(linked.count == 5 && copied.count == 5 && linked[2...3] == copied[2...3], "\(linked)\n\(copied)")
        let first = try layers("one")
        #expect(first.count == 5 && linked.count == 5 && linked[2...3] != first[2...3])
        let x = try h.berth(["run", "--rm", "two", "cat", "/app/a/x", "/fresh/a/y"])
        #expect(x.stdout == "two\nsame\n", "\(x.stdout) \(x.stderr)")
        #expect(try h.berth(["system", "check"]).status == 0)
    }

    /// Paths with a combining mark right after a slash (one Swift Character, two things to the
    /// kernel and to BuildKit): the glob's base name, WORKDIR and a relative destination land
    /// where `docker build` puts them (checked live with docker 20.10), and `COPY ../\u{301}x`
    /// is not found instead of reading the file of that name beside the context.
    @Test func combiningMarksAfterSlashesAreSeparators() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let mark = "\u{301}"
        let ctx = try h.context(
            "marks",
            [
                "Dockerfile": """
                FROM busybox-base
                COPY d/\(mark)x /out1
                COPY d/ /dd/
                COPY d/*x /glob/
                WORKDIR /w/\(mark)v
                COPY d/plain rel
                RUN find /dd /glob /w /out1 | sort

                """,
                "d/\(mark)x": "x\n", "d/plain": "p\n",
            ])
        let built = try h.berth(["build", "--progress", "plain", "-t", "marks", ctx])
        #expect(built.status == 0, "\(built.stderr)")
        let listing = built.stderr.split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: " ", maxSplits: 2)
            return parts.count == 3 && parts[0] == "#7" && parts[2].hasPrefix("/") ? String(parts[2]) : nil
        }
        #expect(
            listing == [
                "/dd", "/dd/plain", "/dd/\(mark)x", "/glob", "/glob/\(mark)x", "/out1", "/w", "/w/\(mark)v",
                "/w/\(mark)v/rel",
            ], "\(built.stderr)")
        // The file beside the context stays unread.
        try "SECRET\n".write(toFile: h.work + "/\(mark)x", atomically: false, encoding: .utf8)
        let escape = try h.context("escape", ["Dockerfile": "FROM busybox-base\nCOPY ../\(mark)x /leak\n"])
        let refused = try h.berth(["build", "-t", "escape", escape])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("not found in the build context"), "\(refused.stderr)")
    }
}
