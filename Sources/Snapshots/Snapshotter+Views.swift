import Foundation
import ImageStore

#if canImport(Glibc)
    import Glibc
#endif

extension Snapshotter {
    /// Runs `body` with a read-only view of the file system made of `chain` (topmost first):
    /// the snapshot directory itself for one layer, a lower-only overlay mount for several, an
    /// empty directory for none. The mount is removed when `body` returns or throws.
    public func withReadOnlyView<T>(
        of chain: [SnapshotRecord], _ body: (String) async throws -> T
    ) async throws -> T {
        try await withReadOnlyView(ofDirectories: chain.map { filesPath(of: $0.id) }, body)
    }

    /// The same over layer directories in overlay form (topmost first), e.g. a container's upper
    /// directory above its image's snapshots.
    public func withReadOnlyView<T>(
        ofDirectories directories: [String], _ body: (String) async throws -> T
    ) async throws -> T {
        if directories.isEmpty {
            let empty = store.snapshotsDirectory + "/empty"
            try FileSystem.makeDirectory(empty)
            return try await body(empty)
        }
        if directories.count == 1 {
            return try await body(directories[0])
        }
        let mountPoint = store.temporaryPath("view")
        try FileSystem.makeDirectory(mountPoint)
        let options =
            "lowerdir=" + directories.joined(separator: ":") + ",redirect_dir=off,metacopy=off,index=off"
        guard Glibc.mount("overlay", mountPoint, "overlay", UInt(MS_RDONLY), options) == 0 else {
            let code = errno
            rmdir(mountPoint)
            throw SnapshotError.mount(target: mountPoint, options: options, errno: code)
        }
        defer {
            if umount2(mountPoint, 0) != 0 { umount2(mountPoint, Int32(MNT_DETACH)) }
            rmdir(mountPoint)
        }
        return try await body(mountPoint)
    }
}
