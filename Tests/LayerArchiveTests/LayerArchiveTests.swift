import CArchive
import Foundation
import OCIImage
import Testing

@testable import LayerArchive

/// Real trees in temporary directories: write a tar, unpack it, compare; hostile tars refused.
@Suite(.serialized) struct LayerArchiveTests {
    final class Scratch {
        let base = NSTemporaryDirectory() + "berth-layer-" + UUID().uuidString.prefix(8).lowercased()
        init() throws { try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: base) }
        func dir(_ name: String) throws -> String {
            let path = base + "/" + name
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }
    }

    /// A tree with every kind of entry a layer must carry.
    func makeTree(_ root: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/dir/sub", withIntermediateDirectories: true)
        try "hello\n".write(toFile: root + "/dir/file", atomically: false, encoding: .utf8)
        try String(repeating: "n", count: 150).write(
            toFile: root + "/dir/" + String(repeating: "long", count: 30), atomically: false, encoding: .utf8)
        #expect(link(root + "/dir/file", root + "/dir/hardlink") == 0)
        #expect(symlink("../dir/file", root + "/dir/sub/symlink") == 0)
        #expect(mkfifo(root + "/dir/fifo", 0o644) == 0)
        #expect(mknod(root + "/dir/null", S_IFCHR | 0o666, makedev(1, 3)) == 0)
        try "x".write(toFile: root + "/setuid", atomically: false, encoding: .utf8)
        #expect(chmod(root + "/setuid", 0o4755) == 0)
        #expect(chown(root + "/dir/file", 1000, 1000) == 0)
        #expect(setxattr(root + "/dir/file", "user.note", "v", 1, 0) == 0)
        let capability: [UInt8] = [0, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        #expect(setxattr(root + "/setuid", "security.capability", capability, capability.count, 0) == 0)
        // A sparse file: 8 MiB with 4 bytes of data in the middle.
        let fd = open(root + "/sparse", O_WRONLY | O_CREAT, 0o644)
        _ = pwrite(fd, "data", 4, 4 << 20)
        ftruncate(fd, 8 << 20)
        close(fd)
    }

    func makedev(_ major: UInt32, _ minor: UInt32) -> dev_t {
        dev_t(((major & 0xfff) << 8) | (minor & 0xff))
    }

    /// `find`-like listing: path, type, mode, owner, size, link target, xattrs, content hash.
    func describe(_ root: String) throws -> [String] {
        var lines: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let path = enumerator?.nextObject() as? String {
            var st = stat()
            lstat(root + "/" + path, &st)
            var line = "\(path) \(String(st.st_mode, radix: 8)) \(st.st_uid):\(st.st_gid)"
            if (st.st_mode & S_IFMT) == S_IFREG {
                let data = try Data(contentsOf: URL(fileURLWithPath: root + "/" + path))
                line += " \(st.st_size) \(Digest.sha256(of: data).shortID) nlink=\(st.st_nlink)"
            }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                line += " -> " + (try FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + path))
            }
            if (st.st_mode & S_IFMT) == S_IFCHR { line += " dev=\(st.st_rdev)" }
            var names = [CChar](repeating: 0, count: 1024)
            let n = llistxattr(root + "/" + path, &names, names.count)
            if n > 0 {
                line +=
                    " xattrs="
                    + names[0..<n].split(separator: 0).map { String(cString: Array($0) + [0]) }.sorted().joined(
                        separator: ",")
            }
            lines.append(line)
        }
        return lines.sorted()
    }

    @Test func treeRoundTripIsLosslessAndDeterministic() throws {
        let scratch = try Scratch()
        let source = try scratch.dir("source")
        try makeTree(source)
        let first = try LayerArchive.writeTree(directory: source, to: scratch.base + "/a.tar")
        let second = try LayerArchive.writeTree(directory: source, to: scratch.base + "/b.tar")
        #expect(first == second)
        let target = try scratch.dir("target")
        let unpacked = try LayerArchive.unpack(layerAt: scratch.base + "/a.tar", into: target, mode: .apply)
        #expect(unpacked.diffID == first.diffID)
        #expect(try describe(target) == describe(source))
        var st = stat()
        stat(target + "/sparse", &st)
        #expect(st.st_blocks * 512 < 1 << 20, "sparse file was written densely")
    }

    @Test func sourceDateEpochClampsMtimes() throws {
        let scratch = try Scratch()
        let source = try scratch.dir("s")
        try "x".write(toFile: source + "/f", atomically: false, encoding: .utf8)
        let epoch = LayerWriteOptions(sourceDateEpoch: 1_000_000)
        let before = try LayerArchive.writeTree(directory: source, to: scratch.base + "/1.tar", options: epoch)
        var times = [timespec(tv_sec: 2_000_000, tv_nsec: 0), timespec(tv_sec: 3_000_000, tv_nsec: 5)]
        utimensat(AT_FDCWD, source + "/f", &times, 0)
        let after = try LayerArchive.writeTree(directory: source, to: scratch.base + "/2.tar", options: epoch)
        #expect(before == after)
    }

    @Test func gzipRoundTrip() throws {
        let scratch = try Scratch()
        let source = try scratch.dir("s")
        try makeTree(source)
        let plain = try LayerArchive.writeTree(directory: source, to: scratch.base + "/plain.tar")
        let compressed = try LayerArchive.gzip(scratch.base + "/plain.tar", to: scratch.base + "/c.tar.gz")
        #expect(compressed.size < plain.size)
        #expect(try LayerArchive.gzip(scratch.base + "/plain.tar", to: scratch.base + "/d.tar.gz") == compressed)
        let back = try LayerArchive.decompress(layerAt: scratch.base + "/c.tar.gz", to: scratch.base + "/back.tar")
        #expect(back == plain)
        let target = try scratch.dir("t")
        #expect(
            try LayerArchive.unpack(layerAt: scratch.base + "/c.tar.gz", into: target, mode: .apply).diffID
                == plain.diffID)
    }

    @Test func whiteoutsInBothModes() throws {
        let scratch = try Scratch()
        let upper = try scratch.dir("upper")
        #expect(mknod(upper + "/gone", S_IFCHR, 0) == 0)
        try FileManager.default.createDirectory(atPath: upper + "/opaque", withIntermediateDirectories: true)
        #expect(setxattr(upper + "/opaque", "trusted.overlay.opaque", "y", 1, 0) == 0)
        try "new".write(toFile: upper + "/opaque/new", atomically: false, encoding: .utf8)
        _ = try LayerArchive.writeDiff(upperDirectory: upper, to: scratch.base + "/diff.tar")

        let snapshot = try scratch.dir("snapshot")
        _ = try LayerArchive.unpack(layerAt: scratch.base + "/diff.tar", into: snapshot, mode: .overlay)
        var st = stat()
        #expect(lstat(snapshot + "/gone", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0)
        var value = [UInt8](repeating: 0, count: 4)
        #expect(getxattr(snapshot + "/opaque", "trusted.overlay.opaque", &value, 4) == 1)

        let tree = try scratch.dir("tree")
        try "old".write(toFile: tree + "/gone", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: tree + "/opaque", withIntermediateDirectories: true)
        try "old".write(toFile: tree + "/opaque/old", atomically: false, encoding: .utf8)
        _ = try LayerArchive.unpack(layerAt: scratch.base + "/diff.tar", into: tree, mode: .apply)
        #expect(!FileManager.default.fileExists(atPath: tree + "/gone"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tree + "/opaque") == ["new"])
    }

    /// A directory named `.wh.b` can exist (the missing parent of `a/.wh.b/c`, created as docker
    /// does); a later layer's `a/.wh..wh.b` removes it (apply) or hides it with a 0:0 device of
    /// that name (overlay), and the diff of such an upper directory carries the same whiteout.
    /// The tar fuzzer checks that nothing else named `.wh.*` is ever extracted.
    @Test func whiteoutOfADirectoryNamedLikeAWhiteout() throws {
        let scratch = try Scratch()
        let lower = scratch.base + "/lower.tar"
        try craft(lower, "i = tarfile.TarInfo('a/.wh.b/c'); i.size = 1; t.addfile(i, io.BytesIO(b'x'))")
        let upper = scratch.base + "/upper.tar"
        try craft(upper, "t.addfile(tarfile.TarInfo('a/.wh..wh.b'))")

        let tree = try scratch.dir("tree")
        _ = try LayerArchive.unpack(layerAt: lower, into: tree, mode: .apply)
        var st = stat()
        #expect(lstat(tree + "/a/.wh.b/c", &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG)
        _ = try LayerArchive.unpack(layerAt: upper, into: tree, mode: .apply)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tree + "/a") == [])

        let snapshot = try scratch.dir("snapshot")
        _ = try LayerArchive.unpack(layerAt: upper, into: snapshot, mode: .overlay)
        #expect(lstat(snapshot + "/a/.wh.b", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0)
        _ = try LayerArchive.writeDiff(upperDirectory: snapshot, to: scratch.base + "/again.tar")
        let names = try LayerArchiveNonUTF8Tests.entries(scratch.base + "/again.tar").map {
            String(decoding: $0[0], as: UTF8.self)
        }
        #expect(names.contains("a/.wh..wh.b"))
    }

    /// Writes a tar with Python's tarfile, which lets the test craft hostile entries.
    func craft(_ path: String, _ script: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            "-c",
            "import tarfile, io, sys\nt = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)\n" + script
                + "\nt.close()", path,
        ]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    @Test(arguments: [
        ("dotdot", "i = tarfile.TarInfo('../escaped'); i.size = 1; t.addfile(i, io.BytesIO(b'x'))", "'..'"),
        ("nested", "i = tarfile.TarInfo('a/../../escaped'); i.size = 1; t.addfile(i, io.BytesIO(b'x'))", "'..'"),
        (
            "through-symlink",
            "i = tarfile.TarInfo('link'); i.type = tarfile.SYMTYPE; i.linkname = 'OUTSIDE'; t.addfile(i)\ni = tarfile.TarInfo('link/escaped'); i.size = 1; t.addfile(i, io.BytesIO(b'x'))",
            "symlink"
        ),
        (
            "hardlink-out",
            "i = tarfile.TarInfo('h'); i.type = tarfile.LNKTYPE; i.linkname = '../../etc/passwd'; t.addfile(i)", "'..'"
        ),
        (
            "hardlink-missing",
            "i = tarfile.TarInfo('h'); i.type = tarfile.LNKTYPE; i.linkname = 'etc/shadow'; t.addfile(i)", "hardlink"
        ),
        (
            // The directory the previous entries went into is replaced by a symlink: the next
            // entry must not go into the old (cached) directory nor follow the link.
            "parent-replaced-by-symlink",
            "i = tarfile.TarInfo('d'); i.type = tarfile.DIRTYPE; t.addfile(i)\ni = tarfile.TarInfo('d/x'); i.size = 1; t.addfile(i, io.BytesIO(b'x'))\ni = tarfile.TarInfo('d'); i.type = tarfile.SYMTYPE; i.linkname = 'OUTSIDE'; t.addfile(i)\ni = tarfile.TarInfo('d/escaped'); i.size = 1; t.addfile(i, io.BytesIO(b'x'))",
            "symlink"
        ),
        (
            "huge-sparse",
            "i = tarfile.TarInfo('big'); i.size = 0; i.pax_headers = {'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'big', 'GNU.sparse.realsize': str(1 << 60)}; t.addfile(i)",
            "corrupt archive"
        ),
    ])
    func hostileTarsAreRefused(_ name: String, _ script: String, _ reason: String) throws {
        let scratch = try Scratch()
        let outside = try scratch.dir("outside")
        let target = try scratch.dir("target")
        let tar = scratch.base + "/\(name).tar"
        try craft(tar, script.replacingOccurrences(of: "OUTSIDE", with: outside))
        #expect {
            try LayerArchive.unpack(layerAt: tar, into: target, mode: .apply)
        } throws: { error in
            "\(error)".contains(tar) && "\(error)".contains(reason)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: scratch.base + "/escaped"))
    }

    /// Data and zero runs of every length around the 4 KiB pieces come back byte for byte; all-zero
    /// pieces become holes, also at the end of a file; many files share a parent directory.
    @Test func dataRunsAndHolesSurvive() throws {
        let scratch = try Scratch()
        let target = try scratch.dir("target")
        let tar = scratch.base + "/runs.tar"
        let script = """
            patterns = [b'a' * 4096 + b'\\0' * 8192 + b'b' * 100 + b'\\0' * 20000, b'\\0' * 10000 + b'c' * 5000,
                        b'd' * 70000, b'', b'\\0' * 4096, b'e' + b'\\0' * 4095 + b'f']
            for n in range(60):
                data = patterns[n % len(patterns)]
                i = tarfile.TarInfo('dir%d/f%d' % (n // 20, n)); i.size = len(data); t.addfile(i, io.BytesIO(data))
            """
        try craft(tar, script)
        _ = try LayerArchive.unpack(layerAt: tar, into: target, mode: .apply)
        let patterns: [[UInt8]] = [
            [UInt8](repeating: 0x61, count: 4096) + [UInt8](repeating: 0, count: 8192)
                + [UInt8](repeating: 0x62, count: 100)
                + [UInt8](repeating: 0, count: 20000),
            [UInt8](repeating: 0, count: 10000) + [UInt8](repeating: 0x63, count: 5000),
            [UInt8](repeating: 0x64, count: 70000), [], [UInt8](repeating: 0, count: 4096),
            [0x65] + [UInt8](repeating: 0, count: 4095) + [0x66],
        ]
        for n in 0..<60 {
            let path = target + "/dir\(n / 20)/f\(n)"
            let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(data == patterns[n % patterns.count], "\(path)")
        }
        var st = stat()
        #expect(stat(target + "/dir0/f0", &st) == 0)
        #expect(st.st_size == 32388)
        #expect(st.st_blocks * 512 < 16384, "the zero pieces are holes")
    }

    /// `a/`, `a/b/`, then `a` replaced by a symlink to a directory outside: setting the
    /// directories' times at the end must not follow `a` and touch `OUTSIDE/b`.
    @Test func directoryTimesDoNotFollowALaterSymlink() throws {
        let scratch = try Scratch()
        let outside = try scratch.dir("outside")
        let target = try scratch.dir("target")
        _ = try scratch.dir("outside/b")
        var old = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, outside + "/b", &old, 0) == 0)
        let tar = scratch.base + "/replaced.tar"
        try craft(
            tar,
            """
            for name in ('a', 'a/b'):
                i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mtime = 1700000000; t.addfile(i)
            i = tarfile.TarInfo('a'); i.type = tarfile.SYMTYPE; i.linkname = '\(outside)'; t.addfile(i)
            """)
        _ = try LayerArchive.unpack(layerAt: tar, into: target, mode: .apply)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: target + "/a") == outside)
        var st = stat()
        #expect(lstat(outside + "/b", &st) == 0)
        #expect(st.st_mtim.tv_sec == 1_000_000)
    }

    /// A zstd blob holding a gzip stream is decompressed once: its diff ID is the digest of the
    /// gzip bytes, as docker computes it, and unpacking refuses those bytes as a tar (found by
    /// Fuzz/run-tar-fuzzer.sh: libarchive's filter bidding decompressed both layers).
    @Test func compressedTwiceIsDecompressedOnce() throws {
        let scratch = try Scratch()
        let source = try scratch.dir("s")
        try makeTree(source)
        let tar = scratch.base + "/t.tar"
        _ = try LayerArchive.writeTree(directory: source, to: tar)
        let gzipped = try LayerArchive.gzip(tar, to: tar + ".gz")
        _ = try LayerArchive.compress(tar + ".gz", to: tar + ".gz.zst", using: .zstd)
        #expect(try LayerArchive.decompress(layerAt: tar + ".gz.zst", to: scratch.base + "/once") == gzipped)
        let target = try scratch.dir("target")
        #expect {
            try LayerArchive.unpack(layerAt: tar + ".gz.zst", into: target, mode: .apply)
        } throws: { error in
            "\(error)".hasPrefix(tar + ".gz.zst: not a readable archive")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty)
    }

    /// A PAX extended header cut off before its data: libarchive fails without a message, which
    /// must become an error naming the archive, not a trap (found by Fuzz/run-tar-fuzzer.sh).
    @Test func truncatedPaxHeaderIsAnError() throws {
        let scratch = try Scratch()
        let target = try scratch.dir("target")
        let tar = scratch.base + "/truncated.tar"
        try craft(tar, "i = tarfile.TarInfo('d/' + 'long' * 40); i.size = 1; t.addfile(i, io.BytesIO(b'x'))")
        #expect(truncate(tar, 512) == 0)
        #expect {
            try LayerArchive.unpack(layerAt: tar, into: target, mode: .apply)
        } throws: { error in
            "\(error)".contains(tar) && "\(error)".contains("corrupt archive")
        }
    }

    @Test func pythonReadsWhatWeWrite() throws {
        let scratch = try Scratch()
        let source = try scratch.dir("s")
        try makeTree(source)
        _ = try LayerArchive.writeTree(directory: source, to: scratch.base + "/t.tar")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            "-c", "import tarfile,sys; print(len(tarfile.open(sys.argv[1]).getmembers()))", scratch.base + "/t.tar",
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let count = Int(
            String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(
                in: .whitespacesAndNewlines))
        #expect(count == 10)  // dir, dir/sub, 4 files, symlink, fifo, device, hardlink
    }
}
