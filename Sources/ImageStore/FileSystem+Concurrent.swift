import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension FileSystem {
    /// ``removeTree(_:)`` with each directory directly under `path` removed on its own thread.
    ///
    /// Freeing a directory's block can block for milliseconds (on a file system mounted with
    /// `discard`, ext4 issues a synchronous discard per freed block: about 3.7 ms each on the
    /// virtual disk berth was measured on); a container directory's subtrees (`fs`, `work`,
    /// `root`) then wait for each other for no reason. Same result and errors as
    /// ``removeTree(_:)`` (the first error is thrown once every subtree is done).
    public static func removeTreeConcurrently(_ path: String) throws(StoreError) {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return try removeTree(path) }
        let names: [String]
        do { names = try listDirectory(path) } catch { return try removeTree(path) }
        let firstError = Mutex<StoreError?>(nil)
        let group = DispatchGroup()
        for name in names {
            let child = path + "/" + name
            var entry = stat()
            guard lstat(child, &entry) == 0, (entry.st_mode & S_IFMT) == S_IFDIR else { continue }
            group.enter()
            let thread = Thread {
                do throws(StoreError) {
                    try removeTree(child)
                } catch {
                    firstError.withLock { $0 = $0 ?? error }
                }
                group.leave()
            }
            thread.stackSize = 1 << 18
            thread.start()
        }
        group.wait()
        if let error = firstError.withLock({ $0 }) { throw error }
        // Files, and anything a name that is not UTF-8 hid from listDirectory.
        try removeTree(path)
    }
}
