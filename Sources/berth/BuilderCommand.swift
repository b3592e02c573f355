import ArgumentParser
import ImageStore

/// `berth builder …`: docker's build cache verbs.
struct BuilderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "builder", abstract: "Manage the build cache.", subcommands: [BuilderPruneCommand.self])
}

/// `berth builder prune [-a] [-f] [--keep-storage SIZE]`: build-cache records and the
/// `RUN --mount=type=cache` directories (docker's `builder prune` removes both); images stay.
struct BuilderPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune", abstract: "Remove the build cache, cache mounts included.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Remove all build cache (berth keeps no internal records, so as without -a).")
    var all = false

    @Flag(name: .shortAndLong, help: "Do not ask for confirmation.")
    var force = false

    @Option(
        name: .customLong("keep-storage"),
        help: ArgumentHelp("Keep the most recently used build cache up to this size (e.g. 2GB).", valueName: "size"))
    var keepStorage: String?

    func run() async throws {
        let keep = try ByteSize.keepStorage(keepStorage)
        guard force || Confirmation.ask("This will remove all build cache, cache mounts included.") else { return }
        let stores = try Stores(global)
        let report = try await stores.store.prune(
            PruneRequest(danglingImages: false, allImages: false, buildCache: true, keepStorage: keep),
            onWait: Confirmation.waitingNotice)
        PruneOutput.print(report)
    }
}
