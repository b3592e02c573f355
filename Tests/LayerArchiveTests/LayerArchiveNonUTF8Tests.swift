import CArchive
import Foundation
import Testing

@testable import LayerArchive

/// File names that are not UTF-8 (Linux allows any bytes but `/` and NUL): written, unpacked and
/// read by other tools byte for byte. Trees are made with Glibc calls on byte paths, never
/// through `String`, so nothing in the test itself can mangle a name.
@Suite struct LayerArchiveNonUTF8Tests {
    static let invalidFile: [UInt8] = [0x66, 0xff, 0x6f]  // "f\xffo"
    static let latin1Directory: [UInt8] = [0x63, 0x61, 0x66, 0xe9]  // "café" in Latin-1
    static let latin1File: [UInt8] = Array("inner".utf8) + [0xe9]
    static let utf8File: [UInt8] = Array("héllo".utf8)  // 68 c3 a9 6c 6c 6f
    static let symlinkName: [UInt8] = [0x73, 0xfe]
    static let firstLink: [UInt8] = [0x6c, 0xfe, 0x31]
    static let secondLink: [UInt8] = [0x6c, 0xfe, 0x32]
    static let symlinkTarget: [UInt8] = latin1Directory + [0x2f] + latin1File

    // MARK: Byte-path helpers

    /// A temporary directory under /tmp, removed (whatever the bytes of the names in it) when
    /// released.
    final class Scratch {
        let base = "/tmp/berth-nonutf8-" + UUID().uuidString.prefix(8).lowercased()
        init() throws { try #require(mkdir(base, 0o755) == 0) }
        deinit { LayerArchiveNonUTF8Tests.removeTree(Array(base.utf8)) }

        /// A new directory `name` in the scratch directory.
        func dir(_ name: String) throws -> [UInt8] {
            let path = Array((base + "/" + name).utf8)
            try #require(mkdir(LayerArchiveNonUTF8Tests.c(path), 0o755) == 0)
            return path
        }

        func file(_ name: String) -> String { base + "/" + name }
    }

    /// A NUL-terminated copy of a byte path.
    static func c(_ bytes: [UInt8]) -> [CChar] { bytes.map { CChar(bitPattern: $0) } + [0] }

    /// Joins byte path components with `/`.
    static func path(_ components: [UInt8]...) -> [UInt8] {
        Array(components.joined(separator: [0x2f]))
    }

    static func writeFile(_ path: [UInt8], _ contents: [UInt8]) throws {
        let fd = open(c(path), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(write(fd, contents, contents.count) == contents.count)
    }

    static func readFile(_ path: [UInt8]) -> [UInt8] {
        let fd = open(c(path), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case let n = read(fd, &buffer, buffer.count), n > 0 { result += buffer[0..<n] }
        return result
    }

    static func readLink(_ path: [UInt8]) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(c(path), &buffer, buffer.count)
        return n < 0 ? [] : buffer[0..<n].map { UInt8(bitPattern: $0) }
    }

    /// The names in a directory as readdir gives them, bytewise sorted.
    static func children(_ path: [UInt8]) -> [[UInt8]] {
        guard let dir = opendir(c(path)) else { return [] }
        defer { closedir(dir) }
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name != [0x2e] && name != [0x2e, 0x2e] { names.append(name) }
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    static func removeTree(_ path: [UInt8]) {
        var st = stat()
        guard lstat(c(path), &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for child in children(path) { removeTree(Self.path(path, child)) }
            rmdir(c(path))
        } else {
            unlink(c(path))
        }
    }

    /// One entry of a tree, described by bytes: what a byte-exact comparison looks at.
    struct Node: Equatable, CustomStringConvertible {
        var path: [UInt8]
        var mode: mode_t
        var contents: [UInt8] = []
        var target: [UInt8] = []
        var device: dev_t = 0
        /// The other paths of the tree on the same inode (hardlinks).
        var sameInode: [[UInt8]] = []

        var description: String {
            let hex = { (bytes: [UInt8]) in bytes.map { String(format: "%02x", $0) }.joined() }
            return "\(hex(path)) \(String(mode, radix: 8)) \(hex(contents)) -> \(hex(target)) dev=\(device) "
                + "links=\(sameInode.map(hex))"
        }
    }

    /// Every entry below `root`, names and link targets as bytes, with hardlinks as inode sharing.
    static func describe(_ root: [UInt8]) -> [Node] {
        var found: [(Node, ino_t)] = []
        func visit(_ relative: [UInt8]) {
            let directory = relative.isEmpty ? root : path(root, relative)
            for name in children(directory) {
                let child = relative.isEmpty ? name : path(relative, name)
                let host = path(root, child)
                var st = stat()
                guard lstat(c(host), &st) == 0 else { continue }
                var node = Node(path: child, mode: st.st_mode)
                switch st.st_mode & S_IFMT {
                case S_IFREG: node.contents = readFile(host)
                case S_IFLNK: node.target = readLink(host)
                case S_IFCHR, S_IFBLK: node.device = st.st_rdev
                default: break
                }
                found.append((node, st.st_ino))
                if (st.st_mode & S_IFMT) == S_IFDIR { visit(child) }
            }
        }
        visit([])
        return found.map { node, inode in
            var node = node
            node.sameInode = found.filter { $0.1 == inode && $0.0.path != node.path }.map(\.0.path)
            return node
        }
    }

    /// The tree the tests archive: every kind of name and link target that is not UTF-8.
    static func makeTree(_ root: [UInt8]) throws {
        try writeFile(path(root, invalidFile), Array("invalid\n".utf8))
        try #require(mkdir(c(path(root, latin1Directory)), 0o755) == 0)
        try writeFile(path(root, latin1Directory, latin1File), Array("latin-1\n".utf8))
        try #require(symlink(c(symlinkTarget), c(path(root, symlinkName))) == 0)
        try writeFile(path(root, firstLink), Array("linked\n".utf8))
        try #require(link(c(path(root, firstLink)), c(path(root, secondLink))) == 0)
        try writeFile(path(root, utf8File), Array("utf-8\n".utf8))
    }

    /// A tar's entries as libarchive reads them: name, hardlink target, symlink target.
    static func entries(_ tar: String) throws -> [[[UInt8]]] {
        try withCLocale { () throws -> [[[UInt8]]] in
            let archive = try #require(archive_read_new())
            defer { archive_read_free(archive) }
            archive_read_support_format_tar(archive)
            try #require(archive_read_open_filename(archive, tar, 10240) == ARCHIVE_OK)
            let bytes = { (pointer: UnsafePointer<CChar>?) -> [UInt8] in
                pointer.map { Array(UnsafeBufferPointer(start: $0, count: strlen($0))).map { UInt8(bitPattern: $0) } }
                    ?? []
            }
            var result: [[[UInt8]]] = []
            var entry: OpaquePointer?
            while case let rc = archive_read_next_header(archive, &entry), rc != ARCHIVE_EOF {
                try #require(rc == ARCHIVE_OK || rc == ARCHIVE_WARN)
                result.append([
                    bytes(archive_entry_pathname(entry)), bytes(archive_entry_hardlink(entry)),
                    bytes(archive_entry_symlink(entry)),
                ])
            }
            return result
        }
    }

    /// Runs a Python script with the arguments, returning its standard output.
    @discardableResult
    static func python(_ script: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        return String(decoding: output, as: UTF8.self)
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    // MARK: Tests

    @Test func treeWithNonUTF8NamesRoundTripsByteForByte() throws {
        let scratch = try Scratch()
        let source = try scratch.dir("source")
        try Self.makeTree(source)
        let sourceText = String(decoding: source, as: UTF8.self)
        let first = try LayerArchive.writeTree(directory: sourceText, to: scratch.file("a.tar"))
        let second = try LayerArchive.writeTree(directory: sourceText, to: scratch.file("b.tar"))
        #expect(first == second)
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: scratch.file("a.tar")))
                == Data(contentsOf: URL(fileURLWithPath: scratch.file("b.tar"))))

        #expect(
            try Self.entries(scratch.file("a.tar")) == [
                [Self.latin1Directory + [0x2f], [], []],
                [Self.path(Self.latin1Directory, Self.latin1File), [], []],
                [Self.invalidFile, [], []],
                [Self.utf8File, [], []],
                [Self.firstLink, [], []],
                [Self.secondLink, Self.firstLink, []],
                [Self.symlinkName, [], Self.symlinkTarget],
            ])

        let target = try scratch.dir("target")
        let unpacked = try LayerArchive.unpack(
            layerAt: scratch.file("a.tar"), into: scratch.file("target"), mode: .apply)
        #expect(unpacked.diffID == first.diffID)
        let expected = Self.describe(source)
        #expect(expected.count == 7)
        #expect(Self.describe(target) == expected)
        #expect(
            Self.describe(target).first { $0.path == Self.secondLink }?.sameInode == [Self.firstLink],
            "the hardlink pair must share one inode")
    }

    @Test func nonUTF8WhiteoutsInBothModes() throws {
        let scratch = try Scratch()
        let upper = try scratch.dir("upper")
        let gone: [UInt8] = [0x67, 0xfe]
        let nestedGone: [UInt8] = [0xff, 0x67, 0x6f, 0x6e, 0x65]
        try #require(mknod(Self.c(Self.path(upper, gone)), S_IFCHR, 0) == 0)
        try #require(mkdir(Self.c(Self.path(upper, Self.latin1Directory)), 0o755) == 0)
        try #require(mknod(Self.c(Self.path(upper, Self.latin1Directory, nestedGone)), S_IFCHR, 0) == 0)
        _ = try LayerArchive.writeDiff(upperDirectory: scratch.file("upper"), to: scratch.file("diff.tar"))
        let whiteout = Array(".wh.".utf8)
        #expect(
            try Self.entries(scratch.file("diff.tar")).map { $0[0] } == [
                Self.latin1Directory + [0x2f], Self.path(Self.latin1Directory, whiteout + nestedGone), whiteout + gone,
            ])

        let snapshot = try scratch.dir("snapshot")
        _ = try LayerArchive.unpack(layerAt: scratch.file("diff.tar"), into: scratch.file("snapshot"), mode: .overlay)
        for path in [Self.path(snapshot, gone), Self.path(snapshot, Self.latin1Directory, nestedGone)] {
            var st = stat()
            #expect(lstat(Self.c(path), &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0)
        }

        let tree = try scratch.dir("tree")
        try Self.writeFile(Self.path(tree, gone), Array("old".utf8))
        try #require(mkdir(Self.c(Self.path(tree, Self.latin1Directory)), 0o755) == 0)
        try Self.writeFile(Self.path(tree, Self.latin1Directory, nestedGone), Array("old".utf8))
        try Self.writeFile(Self.path(tree, Self.latin1Directory, Self.latin1File), Array("kept".utf8))
        _ = try LayerArchive.unpack(layerAt: scratch.file("diff.tar"), into: scratch.file("tree"), mode: .apply)
        #expect(Self.children(tree) == [Self.latin1Directory])
        #expect(Self.children(Self.path(tree, Self.latin1Directory)) == [Self.latin1File])
    }

    /// What Python's tarfile writes (UTF-8 `path=` records, `hdrcharset=BINARY` for bytes that
    /// are not UTF-8, raw GNU/ustar names) lands on disk as exactly those bytes: no NFC
    /// normalization, no replacement characters, nothing dropped.
    @Test(arguments: ["PAX_FORMAT", "GNU_FORMAT"])
    func pythonTarsUnpackToTheirBytes(_ format: String) throws {
        let scratch = try Scratch()
        let tar = scratch.file("python.tar")
        try Self.python(
            """
            import tarfile, io, sys
            t = tarfile.open(sys.argv[1], 'w', format=tarfile.\(format), encoding='utf-8', errors='surrogateescape')
            for name in ['h\\u00e9llo', 'he\\u0301llo', 'f\\udcffo', 'caf\\udce9/inner']:
                i = tarfile.TarInfo(name); i.size = 1; t.addfile(i, io.BytesIO(b'x'))
            i = tarfile.TarInfo('s\\udcfe'); i.type = tarfile.SYMTYPE; i.linkname = 't\\udcff'; t.addfile(i)
            i = tarfile.TarInfo('l\\udcfe'); i.type = tarfile.LNKTYPE; i.linkname = 'f\\udcffo'; t.addfile(i)
            t.close()
            """, [tar])
        let target = try scratch.dir("target")
        _ = try LayerArchive.unpack(layerAt: tar, into: scratch.file("target"), mode: .apply)
        let nfd: [UInt8] = [0x68, 0x65, 0xcc, 0x81, 0x6c, 0x6c, 0x6f]
        #expect(
            Self.children(target)
                == [
                    Self.latin1Directory, Self.invalidFile, nfd, Self.utf8File, [0x6c, 0xfe], [0x73, 0xfe],
                ].sorted { $0.lexicographicallyPrecedes($1) })
        #expect(Self.children(Self.path(target, Self.latin1Directory)) == [Array("inner".utf8)])
        #expect(Self.readLink(Self.path(target, [0x73, 0xfe])) == [0x74, 0xff])
        var first = stat()
        var second = stat()
        lstat(Self.c(Self.path(target, Self.invalidFile)), &first)
        lstat(Self.c(Self.path(target, [0x6c, 0xfe])), &second)
        #expect(first.st_ino == second.st_ino && first.st_nlink == 2)
    }

    /// Python reads back the bytes we wrote, for both UTF-8 and other names.
    @Test func pythonReadsNonUTF8NamesWeWrite() throws {
        let scratch = try Scratch()
        let source = try scratch.dir("source")
        try Self.makeTree(source)
        let tar = scratch.file("t.tar")
        _ = try LayerArchive.writeTree(directory: scratch.file("source"), to: tar)
        let output = try Self.python(
            """
            import tarfile, sys
            for m in tarfile.open(sys.argv[1], encoding='utf-8', errors='surrogateescape').getmembers():
                enc = lambda s: s.encode('utf-8', 'surrogateescape').hex()
                print(enc(m.name), enc(m.linkname))
            """, [tar])
        let expected = [
            (Self.latin1Directory, []), (Self.path(Self.latin1Directory, Self.latin1File), []),
            (Self.invalidFile, []), (Self.utf8File, []), (Self.firstLink, []), (Self.secondLink, Self.firstLink),
            (Self.symlinkName, Self.symlinkTarget),
        ].map { "\(Self.hex($0.0)) \(Self.hex($0.1))" }
        #expect(output.split(separator: "\n").map(String.init) == expected)
    }

    /// The safety checks work on byte components: names that are not UTF-8 escape no better.
    @Test(arguments: [
        ("dotdot", "i = tarfile.TarInfo('\\udcff/../../escaped'); i.size = 1; t.addfile(i, io.BytesIO(b'x'))", "'..'"),
        (
            "through-symlink",
            "i = tarfile.TarInfo('l\\udcff'); i.type = tarfile.SYMTYPE; i.linkname = 'OUTSIDE'; t.addfile(i)\n"
                + "i = tarfile.TarInfo('l\\udcff/escaped'); i.size = 1; t.addfile(i, io.BytesIO(b'x'))",
            "symlink"
        ),
        (
            "hardlink-out",
            "i = tarfile.TarInfo('h\\udcff'); i.type = tarfile.LNKTYPE; i.linkname = '\\udcff/../../../etc/passwd'; t.addfile(i)",
            "'..'"
        ),
        (
            "whiteout-dotdot",
            "i = tarfile.TarInfo('\\udcff/../.wh.escaped'); i.size = 0; t.addfile(i, io.BytesIO(b''))", "'..'"
        ),
    ])
    func hostileNonUTF8NamesAreRefused(_ name: String, _ script: String, _ reason: String) throws {
        let scratch = try Scratch()
        let outside = try scratch.dir("outside")
        _ = try scratch.dir("target")
        let tar = scratch.file("\(name).tar")
        try Self.python(
            "import tarfile, io, sys\n"
                + "t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT, encoding='utf-8', errors='surrogateescape')\n"
                + script.replacingOccurrences(of: "OUTSIDE", with: scratch.file("outside")) + "\nt.close()", [tar])
        #expect {
            try LayerArchive.unpack(layerAt: tar, into: scratch.file("target"), mode: .apply)
        } throws: { error in
            "\(error)".contains(tar) && "\(error)".contains(reason)
        }
        #expect(Self.children(outside).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: scratch.file("escaped")))
    }
}
