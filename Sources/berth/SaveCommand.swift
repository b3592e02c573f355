import ArgumentParser
import BuildEngine
import Foundation
import LayerArchive

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

    @Option(name: .long, help: "Archive format: docker (docker-archive that is also an OCI layout) or oci.")
    var format: String = "docker"

    @Option(
        name: .long,
        help: "Layer compression: none, gzip or zstd (default: none for docker, gzip for oci).")
    var compression: String?

    @Argument(help: "Images to save.")
    var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("save needs at least one image") }
        guard ImageSaver.Format(rawValue: format) != nil else {
            throw ValidationError("unknown --format '\(format)' (use docker or oci)")
        }
        if let compression, compression != "none", LayerCompression(rawValue: compression) == nil {
            throw ValidationError("unknown --compression '\(compression)' (use none, gzip or zstd)")
        }
    }

    func run() async throws {
        let stores = try Stores(global)
        InterruptCleanup.install(stores.store)
        if output == nil && isatty(1) != 0 {
            throw BerthError("refusing to write an archive to a terminal; use -o FILE or redirect standard output")
        }
        let format = ImageSaver.Format(rawValue: format) ?? .docker
        let compression = (compression ?? (format == .oci ? "gzip" : "none")).flatMap { LayerCompression(rawValue: $0) }
        try await ImageSaver(store: stores.store).save(
            images, to: output ?? "-", format: format, compression: compression)
    }
}
