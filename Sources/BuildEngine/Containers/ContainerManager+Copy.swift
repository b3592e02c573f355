import CRuntimeShim
import ContainerRuntime
import Foundation
import ImageStore
import Snapshots

#if canImport(Glibc)
    import Glibc
#endif

extension ContainerManager {
    /// docker cp CONTAINER:PATH HOSTPATH. The container path is resolved inside the container's
    /// root (symlinks cannot lead out of it) and copied without following symlinks.
    public func copyOut(_ record: ContainerRecord, path: String, to hostPath: String) async throws {
        try await withRoot(record) { rootFD in
            let (parent, name) = try Self.resolveParent(rootFD, path, container: record.name)
            defer { close(parent) }
            var st = stat()
            guard fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw RunError("Could not find the file \(path) in container \(record.name)")
            }
            let (target, targetName) = try Self.hostDestination(hostPath, defaultName: name)
            defer { close(target) }
            try TreeCopy.copy(from: parent, name, to: target, targetName)
        }
    }

    /// docker cp HOSTPATH CONTAINER:PATH, written through the container's root the same safe way.
    public func copyIn(_ record: ContainerRecord, from hostPath: String, to path: String) async throws {
        let source = hostPath.parentPath
        let sourceName = hostPath.lastComponent
        let sourceFD = open(source.isEmpty ? "." : source, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard sourceFD >= 0 else { throw RunError("cannot open \(hostPath): \(String(cString: strerror(errno)))") }
        defer { close(sourceFD) }
        var st = stat()
        guard fstatat(sourceFD, sourceName, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw RunError("could not find \(hostPath)")
        }
        try await withRoot(record) { rootFD in
            // An existing directory receives the source under its own name.
            let directory = berth_open_in_root(rootFD, path, BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC, 0)
            if directory >= 0 {
                defer { close(directory) }
                try TreeCopy.copy(from: sourceFD, sourceName, to: directory, sourceName)
                return
            }
            let (parent, name) = try Self.resolveParent(rootFD, path, container: record.name)
            defer { close(parent) }
            try TreeCopy.copy(from: sourceFD, sourceName, to: parent, name)
        }
    }

    /// Runs `body` with a descriptor of the container's root: the running container's own
    /// (/proc/PID/root), or its file system mounted for the occasion.
    private func withRoot(_ record: ContainerRecord, _ body: (Int32) throws -> Void) async throws {
        let record = try await reconciled(record)
        if record.state == .running, let pid = record.pid {
            let fd = open("/proc/\(pid)/root", O_PATH_FLAGS)
            guard fd >= 0 else { throw RunError("cannot open the root of container \(record.name)") }
            defer { close(fd) }
            try body(fd)
            return
        }
        let snapshotter = Snapshotter(store: store)
        let image = try await store.image(named: record.imageID.description)
        let layers = try await snapshotter.snapshots(of: image)
        let active = try snapshotter.prepareContainer(
            directory: store.containerDirectory(record.id), parent: layers.last)
        try snapshotter.mount(active, lowers: layers.reversed())
        defer { try? snapshotter.unmount(active) }
        let fd = open(active.rootPath, O_PATH_FLAGS)
        guard fd >= 0 else { throw RunError("cannot open the root of container \(record.name)") }
        defer { close(fd) }
        try body(fd)
    }

    private var O_PATH_FLAGS: Int32 { BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC }

    /// The parent directory of `path` inside the root (as a descriptor) and the last name.
    private static func resolveParent(_ rootFD: Int32, _ path: String, container: String) throws -> (Int32, String) {
        // (Both ignore trailing slashes.)
        let parentPath = path.parentPath
        let name = path.lastComponent
        guard !name.isEmpty, name != "/", name != ".", name != ".." else {
            throw RunError("cannot copy the root of container \(container) by name \(path)")
        }
        let parent = berth_open_in_root(
            rootFD, parentPath.isEmpty ? "/" : parentPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        guard parent >= 0 else {
            throw RunError("no such directory \(parentPath) in container \(container)")
        }
        return (parent, name)
    }

    /// Where a copy lands on the host: inside an existing directory under `defaultName`, else
    /// at the path itself.
    private static func hostDestination(_ path: String, defaultName: String) throws -> (Int32, String) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { throw RunError("cannot open \(path): \(String(cString: strerror(errno)))") }
            return (fd, defaultName)
        }
        let parent = path.parentPath
        let fd = open(parent.isEmpty ? "." : parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw RunError("cannot open \(parent): \(String(cString: strerror(errno)))") }
        return (fd, path.lastComponent)
    }
}

/// Copies a tree between two directory descriptors with *at calls, never following a symlink
/// on either side; keeps modes, owners and modification times.
enum TreeCopy {
    static func copy(from source: Int32, _ name: String, to target: Int32, _ targetName: String) throws {
        var st = stat()
        guard fstatat(source, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { throw failure("stat", name) }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            if mkdirat(target, targetName, 0o700) != 0 && errno != EEXIST { throw failure("mkdir", targetName) }
            let from = openat(source, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard from >= 0 else { throw failure("open", name) }
            defer { close(from) }
            let to = openat(target, targetName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard to >= 0 else { throw failure("open", targetName) }
            defer { close(to) }
            for child in try FileSystem.listDirectory("/proc/self/fd/\(from)") {
                try copy(from: from, child, to: to, child)
            }
            finish(to, st)
        case S_IFREG:
            let input = openat(source, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard input >= 0 else { throw failure("open", name) }
            defer { close(input) }
            unlinkat(target, targetName, 0)
            let output = openat(target, targetName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard output >= 0 else { throw failure("create", targetName) }
            defer { close(output) }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw failure("read", name) }
                if n == 0 { break }
                var offset = 0
                while offset < n {
                    let w = buffer[offset..<n].withUnsafeBytes { write(output, $0.baseAddress, $0.count) }
                    if w < 0 && errno == EINTR { continue }
                    if w <= 0 { throw failure("write", targetName) }
                    offset += w
                }
            }
            finish(output, st)
        case S_IFLNK:
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlinkat(source, name, &buffer, buffer.count - 1)
            guard n >= 0 else { throw failure("readlink", name) }
            buffer[n] = 0
            unlinkat(target, targetName, 0)
            guard symlinkat(buffer, target, targetName) == 0 else { throw failure("symlink", targetName) }
            fchownat(target, targetName, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW)
        default:
            unlinkat(target, targetName, 0)
            guard mknodat(target, targetName, st.st_mode, st.st_rdev) == 0 else { throw failure("mknod", targetName) }
            fchownat(target, targetName, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW)
        }
    }

    private static func finish(_ fd: Int32, _ st: stat) {
        fchown(fd, st.st_uid, st.st_gid)
        fchmod(fd, st.st_mode & 0o7777)
        var times = [st.st_atim, st.st_mtim]
        futimens(fd, &times)
    }

    private static func failure(_ operation: String, _ name: String) -> RunError {
        RunError("cp: \(operation) \(name): \(String(cString: strerror(errno)))")
    }
}
