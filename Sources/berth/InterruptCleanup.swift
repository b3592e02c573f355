import Dispatch
import Foundation
import ImageStore

#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT and SIGTERM for the commands that write to the store or to a file without running a
/// container (pull, push, save, load, import, commit, export): remove what this process was
/// writing under the store's `tmp/` (unmounting anything mounted there first), then exit with
/// 128 + the signal, as shells report an interrupted command. The store needs nothing more: blobs
/// and snapshots are recorded only once complete, and an unfinished SQLite transaction rolls back.
enum InterruptCleanup {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    /// Installs the handlers for `store`. Also makes a directory of this process under the store's
    /// `tmp/` where the store hands out its temporary paths from then on, and points $TMPDIR at
    /// it: an interrupt takes the whole directory away at once.
    static func install(_ store: ImageStore) {
        let directory = store.temporaryPath("process")
        if mkdir(directory, 0o700) == 0 {
            TemporaryPaths.useScratch(directory, in: store.temporaryDirectory)
            setenv("TMPDIR", directory, 1)
            // A normal exit removes it too (TemporaryPaths remembers it; no copy kept here).
            atexit { TemporaryPaths.retireScratch() }
        }
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { cleanUpAndExit(number) }
            source.resume()
            sources.append(source)
        }
    }

    /// Removes this process's temporary paths and exits with 128 + `signal`.
    static func cleanUpAndExit(_ signal: Int32) -> Never {
        let paths = TemporaryPaths.all
        // Mount points under those paths, deepest first, so nothing is removed through a mount.
        // (Temporary paths hold no characters that mountinfo escapes.)
        let table = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let mountPoints = table.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            return fields.count > 4 ? String(fields[4]) : nil
        }
        for point in mountPoints.sorted(by: { $0.count > $1.count })
        where paths.contains(where: { point == $0 || point.hasPrefix($0 + "/") }) {
            umount2(point, Int32(MNT_DETACH))
        }
        // The scratch directory holds the paths handed out since install: renamed away first, so
        // a thread still downloading cannot create its file after the removal (a pull's config
        // file was once left behind that way).
        TemporaryPaths.retireScratch()
        for path in paths.reversed() { try? FileSystem.removeTree(path) }
        _exit(128 + signal)
    }
}
