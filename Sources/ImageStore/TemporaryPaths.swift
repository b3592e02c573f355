import Foundation
import Synchronization

/// The temporary paths this process has handed out under stores' `tmp/` directories, so that an
/// interrupted command can remove what it was writing before it exits (see
/// ``ImageStore/temporaryPath(_:)``). Paths that were renamed into place are simply gone.
public enum TemporaryPaths {
    private static let paths = Mutex<[String]>([])

    /// Remembers `path` as this process's.
    static func register(_ path: String) {
        paths.withLock { $0.append(path) }
    }

    /// Every path handed out so far (most recent last).
    public static var all: [String] { paths.withLock { $0 } }
}
