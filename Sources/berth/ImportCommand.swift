import ArgumentParser
import BuildEngine
import OCIImage

/// `berth import TARBALL NAME`: a root file system tarball becomes an image.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a root file system tarball (plain, gzip or zstd; - for stdin) as an image.")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .customLong("message")], help: "Commit message for the imported image.")
    var message: String?

    @Option(
        name: [.short, .customLong("change")],
        help: ArgumentHelp(
            "Apply a Dockerfile instruction to the image config (CMD, ENV, …); repeatable.", valueName: "instruction"))
    var changes: [String] = []

    @Argument(help: "The tarball, or - for standard input.")
    var tarball: String

    @Argument(help: "Name for the image, e.g. busybox-base or app:1.")
    var name: String?

    func run() async throws {
        let reference = try name.map { try ImageReference(parsing: $0) }
        let stores = try Stores(global)
        InterruptCleanup.install(stores.store)
        let image = try await ImageImporter(store: stores.store).importTarball(
            tarball, as: reference, message: message, changes: changes)
        print(image.id)
    }
}
