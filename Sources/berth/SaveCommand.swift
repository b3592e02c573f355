import ArgumentParser
import BuildEngine
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `berth save -o FILE NAME…`: images → a docker-archive that is also an OCI layout.
struct SaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "save", abstract: "Save images to a tar archive (docker-archive with an OCI index).")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "Write to this file instead of standard output.")
    var output: String?

    @Argument(help: "Images to save.")
    var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("save needs at least one image") }
    }

    func run() async throws {
        let stores = try Stores(global)
        if output == nil && isatty(1) != 0 {
            throw BerthError("refusing to write an archive to a terminal; use -o FILE or redirect standard output")
        }
        try await ImageSaver(store: stores.store).save(images, to: output ?? "-")
    }
}
