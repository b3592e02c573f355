import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The temporary paths this process has handed out under stores' `tmp/` directories, so that an
/// interrupted command can remove what it was writing before it exits (see
/// ``ImageStore/temporaryPath(_:)``). Paths that were renamed into place are simply gone.
public enum TemporaryPaths {
    private static let paths = Mutex<[String]>([])
    /// This process's own directory under a store's `tmp/` (the store's `tmp/`, the directory):
    /// once set, that store's temporary paths are handed out inside it.
    private static let scratch = Mutex<(temporaryDirectory: String, directory: String)?>(nil)

    /// Remembers `path` as this process's.
    static func register(_ path: String) {
        paths.withLock { $0.append(path) }
    }

    /// Every path handed out so far (most recent last).
    public static var all: [String] { paths.withLock { $0 } }

    /// Hands out the temporary paths of the store whose `tmp/` is `temporaryDirectory` inside
    /// `directory` (an existing directory of this process under it), so ``retireScratch()`` can
    /// take all of them away at once.
    public static func useScratch(_ directory: String, in temporaryDirectory: String) {
        scratch.withLock { $0 = (temporaryDirectory, directory) }
    }

    /// The scratch directory for the store whose `tmp/` is `temporaryDirectory`, if one is set.
    static func scratchDirectory(for temporaryDirectory: String) -> String? {
        scratch.withLock { current in
            current.flatMap { $0.temporaryDirectory == temporaryDirectory ? $0.directory : nil }
        }
    }

    /// Removes the scratch directory while other threads may still be creating files in it:
    /// the directory is first renamed to a name nobody holds, so a path handed out earlier can no
    /// longer be created (its parent is gone), then the renamed tree is removed (again if an
    /// entry whose creation was already under way appeared meanwhile). Returns false when there
    /// was no scratch directory or it could not be renamed.
    @discardableResult
    public static func retireScratch() -> Bool {
        guard let (temporaryDirectory, directory) = scratch.withLock({ $0 }) else { return false }
        let retired = "\(temporaryDirectory)/retired-\(UUID().uuidString.lowercased())"
        guard rename(directory, retired) == 0 else { return false }
        for _ in 0..<20 {
            try? FileSystem.removeTree(retired)
            var st = stat()
            if lstat(retired, &st) != 0 { break }
            usleep(1000)
        }
        return true
    }
}
