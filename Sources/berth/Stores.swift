import ContainerRuntime
import Foundation
import ImageStore

#if canImport(Glibc)
    import Glibc
#endif

/// Opens the store and the runtime a command works with.
struct Stores {
    let store: ImageStore
    let runtime: ContainerRuntime

    init(_ options: GlobalOptions) throws {
        guard geteuid() == 0 else {
            throw BerthError("berth needs root (namespaces, overlay mounts); run it with sudo")
        }
        store = try ImageStore(root: options.storeRoot)
        runtime = ContainerRuntime(stateDirectory: store.runtimeDirectory)
        ContainerRuntime.removeStaleCgroups()
    }
}

/// A plain CLI error message.
struct BerthError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
