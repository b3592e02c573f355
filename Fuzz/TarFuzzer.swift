// libFuzzer entry point for the layer tar reader: berth's real unpacking code
// (LayerArchive.unpack, which decompresses, then extracts with *at system calls relative to
// the target) applied to hostile bytes.
//
// Built by Fuzz/run-tar-fuzzer.sh together with the LayerArchive and OCIImage sources
// (swiftc -sanitize=fuzzer, libarchive, swift-crypto); not part of `make test`.
//
// Input: one control byte, then the payload.
//   control & 3 == 1: the payload is gzip-compressed with LayerArchive.compress first
//   control & 3 == 2: the payload is zstd-compressed with LayerArchive.compress first
//   otherwise:        the payload is the layer file as it is (it may itself be gzip, zstd, …)
//   control & 4:      unpack in .overlay mode (whiteouts become 0:0 devices), else .apply
//
// Work directory ($FUZZ_TAR_WORK, default /dev/shm/berth-fuzz-tar, plus -$FUZZ_WORKER). The
// harness mounts a tmpfs there (the run script starts it in a private mount namespace) and
// mounts a fresh one every `generation` inputs, so the targets of earlier inputs never have to be
// removed entry by entry:
//   input     the layer file given to LayerArchive.unpack
//   payload   the uncompressed payload, when the control byte asks for compression
//   target/   the unpack target, created fresh for every input with a small "lower layer" in it
//             (so whiteouts and opaque markers have something to delete); moved to trash/ after
//   sentinel/ a tree beside the target with names the seeds use; it must never change
//   trash/    the targets of the earlier inputs of this generation
//
// Checked after every input (a violation traps, which libFuzzer reports as a crash):
//   - nothing touched the sentinel tree: every entry of it (directories, files, the symlink) has an
//     inotify watch for creation, deletion, renames, writes and attribute changes (mode, owner,
//     times, link count), read after every input; and at the end of every generation the tree is
//     compared with its first snapshot — same entries, inodes, modes, owners, sizes, link counts,
//     mtimes and ctimes (so nothing was created, written, chmod-ed, linked or touched through a
//     symlink, a hardlink or a `..`);
//   - the work directory holds nothing but input, payload, target, sentinel and trash (no escaped
//     entry, no left-over decompressed temporary);
//   - nothing under the target named `.wh.*` but a directory (whiteouts are applied, never
//     extracted; a missing parent of a deeper entry, "a/.wh.b/c", is created as docker does) or,
//     in overlay mode, the 0:0 device that whites out such a directory (`a/.wh..wh.b`), and
//     no `trusted.overlay.*` attribute exists other than `opaque` set on a directory in overlay
//     mode (a layer cannot forge overlay state);
//   - on success, the returned diff ID and size are those of the uncompressed tar: the input
//     itself when it is not compressed, the payload when this harness compressed it.
// Failures must be thrown as LayerArchiveError (typed throws); a trap anywhere is a crash.

import CArchive
import Foundation
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

private nonisolated(unsafe) var fuzzWork: FuzzWork?

/// A check whose message survives -O (precondition's does not).
private func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTar(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    if fuzzWork == nil { fuzzWork = FuzzWork() }
    guard let work = fuzzWork else { return 0 }
    let control = data[0]
    let payload = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    work.run(control: control, payload: payload)
    return 0
}

/// One node of a tree snapshot, compared field by field.
private struct NodeState: Equatable {
    var path: String
    var inode: UInt
    var mode: UInt32
    var links: UInt
    var uid: UInt32
    var gid: UInt32
    var size: Int
    var mtime: [Int]
    var ctime: [Int]
}

private final class FuzzWork {
    /// Inputs per tmpfs: after this many the sentinel is compared in full and a fresh tmpfs is
    /// mounted (dropping every earlier target at once).
    static let generation = 512
    /// What a watch on a sentinel entry reports: anything that creates, removes, renames, writes
    /// or changes the attributes (mode, owner, times, link count) of it or inside it.
    static let watchMask: UInt32 =
        UInt32(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE)
        | UInt32(IN_DELETE_SELF | IN_MOVE_SELF) | UInt32(IN_DONT_FOLLOW)

    let base: String
    let input: String
    let payloadPath: String
    let target: String
    let sentinel: String
    let trash: String
    var sentinelState: [NodeState] = []
    var watches: Int32 = -1
    var count = 0
    var xattrNames = [CChar](repeating: 0, count: 65536)

    init() {
        let environment = ProcessInfo.processInfo.environment
        base =
            (environment["FUZZ_TAR_WORK"] ?? "/dev/shm/berth-fuzz-tar")
            + (environment["FUZZ_WORKER"].map { "-" + $0 } ?? "")
        input = base + "/input"
        payloadPath = base + "/payload"
        target = base + "/target"
        sentinel = base + "/sentinel"
        trash = base + "/trash"
        // The tmpfs generations must not show on the host: Fuzz/run-tar-fuzzer.sh runs the
        // fuzzer in a private mount namespace of its own.
        var own = [CChar](repeating: 0, count: 64)
        var initial = [CChar](repeating: 0, count: 64)
        _ = readlink("/proc/self/ns/mnt", &own, 63)
        _ = readlink("/proc/1/ns/mnt", &initial, 63)
        require(
            String(cString: own) != String(cString: initial),
            "run the tar fuzzer through Fuzz/run-tar-fuzzer.sh (it needs a private mount namespace)")
        FuzzWork.removeTree(base)
        FuzzWork.mkdirs(base)
        startGeneration()
    }

    /// A fresh tmpfs on the work directory with a new sentinel tree, its snapshot and its watches.
    func startGeneration() {
        if watches >= 0 { close(watches) }
        _ = umount2(base, Int32(MNT_DETACH))
        require(
            mount("tmpfs", base, "tmpfs", 0, "size=4g,mode=0755") == 0,
            "mount a tmpfs on \(base): \(String(cString: strerror(errno)))")
        mkdir(trash, 0o755)
        // Names the seeds (and so the mutations) use, so an escape would hit something.
        for dir in ["a", "a/b", "dir", "dir/sub", "etc", "usr", "usr/bin", "x"] {
            FuzzWork.mkdirs(sentinel + "/" + dir)
        }
        for file in ["f", "file", "a/file", "etc/passwd", "dir/file", "usr/bin/sh", "escaped"] {
            FuzzWork.write(sentinel + "/" + file, Array("sentinel\n".utf8))
        }
        symlink("../target", sentinel + "/back")
        // Old timestamps, so a touch through a symlink shows.
        for path in FuzzWork.walk(sentinel) {
            var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
            utimensat(AT_FDCWD, FuzzWork.cPath(path), &times, AT_SYMLINK_NOFOLLOW)
        }
        sentinelState = FuzzWork.snapshot(sentinel)
        watches = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        require(watches >= 0, "inotify_init1: \(String(cString: strerror(errno)))")
        for path in FuzzWork.walk(sentinel) {
            require(
                inotify_add_watch(watches, FuzzWork.cPath(path), FuzzWork.watchMask) >= 0,
                "inotify_add_watch \(String(decoding: path, as: UTF8.self)): \(String(cString: strerror(errno)))")
        }
        count = 0
    }

    /// The sentinel compared entry by entry with its snapshot.
    func compareSentinel(after event: String) {
        let now = FuzzWork.snapshot(sentinel)
        if now != sentinelState {
            let changed = zip(now, sentinelState).first { $0 != $1 }.map { "\($0.0) was \($0.1)" }
            fatalError(
                "the sentinel beside the target changed: \(changed ?? "\(now.count) entries, was \(sentinelState.count)")"
            )
        }
        require(event.isEmpty, "the sentinel beside the target was touched: inotify reported \(event)")
    }

    /// The first event the sentinel's watches queued since the last call, or "" when none did.
    func sentinelEvent() -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(watches, &buffer, buffer.count)
        guard n > 0 else {
            require(errno == EAGAIN, "reading inotify events: \(String(cString: strerror(errno)))")
            return ""
        }
        return buffer.withUnsafeBytes { raw in
            let event = raw.load(as: inotify_event.self)
            let nameStart = MemoryLayout<inotify_event>.size
            let name = raw[nameStart..<min(n, nameStart + Int(event.len))].prefix { $0 != 0 }
            return
                "mask 0x\(String(event.mask, radix: 16)) on watch \(event.wd) name '\(String(decoding: name, as: UTF8.self))'"
        }
    }

    func run(control: UInt8, payload: [UInt8]) {
        if count == FuzzWork.generation {
            compareSentinel(after: sentinelEvent())
            startGeneration()
        }
        count += 1
        // The lower layer whiteouts and opaque markers act on.
        for dir in ["", "/dir", "/dir/sub", "/opaque", "/opaque/keep"] {
            require(mkdir(target + dir, 0o755) == 0, "mkdir \(target + dir): \(String(cString: strerror(errno)))")
        }
        FuzzWork.write(target + "/dir/old", Array("old\n".utf8))
        FuzzWork.write(target + "/opaque/old", Array("old\n".utf8))
        FuzzWork.write(target + "/keep", Array("keep\n".utf8))
        symlink("dir", target + "/link")
        if unlink(payloadPath) != 0 && errno != ENOENT { FuzzWork.removeTree(payloadPath) }

        // The uncompressed tar, when known: its digest is the diff ID unpack must return.
        var uncompressed: [UInt8]? = payload
        switch control & 3 {
        case 1, 2:
            FuzzWork.write(payloadPath, payload)
            do {
                _ = try LayerArchive.compress(payloadPath, to: input, using: control & 3 == 1 ? .gzip : .zstd)
            } catch {
                fatalError("compressing the payload failed: \(error)")
            }
        default:
            FuzzWork.write(input, payload)
            if LayerArchive.isCompressed(input) { uncompressed = nil }
        }
        let mode: WhiteoutMode = control & 4 != 0 ? .overlay : .apply
        let result: LayerDigest?
        do {
            result = try LayerArchive.unpack(layerAt: input, into: target, mode: mode)
        } catch {
            // A typed LayerArchiveError naming the archive or the target.
            require(error.path == input || error.path.hasPrefix(target), "error names \(error.path)")
            result = nil
        }

        let event = sentinelEvent()
        if !event.isEmpty { compareSentinel(after: event) }
        let children = Set(FuzzWork.names(base))
        let expected: Set<String> = ["input", "payload", "target", "sentinel", "trash"]
        require(children.isSubset(of: expected), "unexpected entries beside the target: \(children)")

        checkTarget(mode: mode)

        if let result, let uncompressed {
            require(result.diffID == Digest.sha256(of: uncompressed), "diff ID differs from the tar's digest")
            require(result.size == Int64(uncompressed.count), "size \(result.size) != \(uncompressed.count)")
        }
        require(
            rename(target, trash + "/\(count)") == 0, "moving the target away: \(String(cString: strerror(errno)))")
    }

    /// Whiteouts never extracted; overlay attributes never forged.
    private func checkTarget(mode: WhiteoutMode) {
        for bytes in FuzzWork.walk(target) {
            let path = String(decoding: bytes, as: UTF8.self)
            let name = bytes.split(separator: 0x2f).last.map(Array.init) ?? []
            if name.starts(with: Array(".wh.".utf8)) {
                // An entry named .wh.* is a whiteout and never extracted; a directory of that name
                // can only be a missing parent of a deeper entry ("a/.wh.b/c"), which docker and
                // containerd create too. In overlay mode such a directory of a lower layer is
                // hidden by a whiteout of its own name (`a/.wh..wh.b`), a 0:0 character device
                // named `.wh.b`, as docker's overlay driver makes it.
                var st = stat()
                let found = lstat(FuzzWork.cPath(bytes), &st) == 0
                let directory = found && (st.st_mode & S_IFMT) == S_IFDIR
                let whiteoutDevice = found && mode == .overlay && (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0
                require(directory || whiteoutDevice, "a whiteout was extracted: \(path)")
            }
            let length = llistxattr(FuzzWork.cPath(bytes), &xattrNames, xattrNames.count)
            guard length > 0 else { continue }
            let names = xattrNames[0..<length].split(separator: 0).map {
                String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            for attribute in names where attribute.hasPrefix("trusted.overlay.") {
                var st = stat()
                lstat(FuzzWork.cPath(bytes), &st)
                require(
                    mode == .overlay && attribute == "trusted.overlay.opaque" && (st.st_mode & S_IFMT) == S_IFDIR,
                    "forged overlay attribute \(attribute) on \(path)")
            }
        }
    }

    // MARK: - Small file-system helpers (never following symlinks)

    static func mkdirs(_ path: String) {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            mkdir(current, 0o755)
        }
    }

    static func write(_ path: String, _ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        require(fd >= 0, "create \(path): \(String(cString: strerror(errno)))")
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            require(n > 0, "write \(path): \(String(cString: strerror(errno)))")
            done += n
        }
    }

    static func names(_ directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var result: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { result.append(name) }
        }
        return result
    }

    /// `root` and everything below it, depth first, without following symlinks. Names are read
    /// as bytes; non-UTF-8 names are visited through their raw bytes.
    static func walk(_ root: String) -> [[UInt8]] {
        var result: [[UInt8]] = []
        func visit(_ path: [UInt8]) {
            result.append(path)
            var st = stat()
            guard lstat(cPath(path), &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return }
            guard let dir = opendir(cPath(path)) else { return }
            var children: [[UInt8]] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
                if name != [0x2e] && name != [0x2e, 0x2e] { children.append(name) }
            }
            closedir(dir)
            for child in children.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                visit(path + [0x2f] + child)
            }
        }
        visit(Array(root.utf8))
        return result
    }

    static func cPath(_ bytes: [UInt8]) -> [CChar] { bytes.map { CChar(bitPattern: $0) } + [0] }

    static func snapshot(_ root: String) -> [NodeState] {
        walk(root).map { bytes in
            let path = String(decoding: bytes, as: UTF8.self)
            var st = stat()
            guard lstat(cPath(bytes), &st) == 0 else {
                return NodeState(
                    path: path, inode: 0, mode: 0, links: 0, uid: 0, gid: 0, size: -1, mtime: [], ctime: [])
            }
            return NodeState(
                path: path, inode: UInt(st.st_ino), mode: st.st_mode, links: UInt(st.st_nlink), uid: st.st_uid,
                gid: st.st_gid, size: Int(st.st_size), mtime: [st.st_mtim.tv_sec, st.st_mtim.tv_nsec],
                ctime: [st.st_ctim.tv_sec, st.st_ctim.tv_nsec])
        }
    }

    /// Removes `path` recursively, never following a symlink (entries are opened relative to
    /// their directory with O_NOFOLLOW).
    static func removeTree(_ path: String) {
        let parent = (path as NSString).deletingLastPathComponent
        let fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        removeAt(fd, Array((path as NSString).lastPathComponent.utf8))
    }

    private static func removeAt(_ parentFD: Int32, _ name: [UInt8]) {
        let cName = cPath(name)
        var st = stat()
        guard fstatat(parentFD, cName, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            let fd = openat(parentFD, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                if let dir = fdopendir(dup(fd)) {
                    var children: [[UInt8]] = []
                    while let entry = readdir(dir) {
                        let child = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
                        if child != [0x2e] && child != [0x2e, 0x2e] { children.append(child) }
                    }
                    closedir(dir)
                    for child in children { removeAt(fd, child) }
                }
                close(fd)
            }
            require(
                unlinkat(parentFD, cName, AT_REMOVEDIR) == 0, "cannot clean up: \(String(cString: strerror(errno)))")
        } else {
            require(unlinkat(parentFD, cName, 0) == 0, "cannot clean up: \(String(cString: strerror(errno)))")
        }
    }
}
