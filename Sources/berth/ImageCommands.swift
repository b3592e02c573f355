import ArgumentParser
import BuildEngine
import Foundation
import ImageStore
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// `berth tag SOURCE TARGET`.
struct TagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Give an image another name.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "An image name or id.") var source: String
    @Argument(help: "The new name, e.g. app:2.") var target: String

    func run() async throws {
        let reference: ImageReference
        do { reference = try ImageReference(parsing: target) } catch { throw ValidationError("\(target): \(error)") }
        let stores = try Stores(global)
        let image = try await stores.store.image(named: source)
        try await stores.store.tag(image.id, as: reference)
    }
}

/// `berth rmi [-f] IMAGE…`: untag, and delete images no name points to any more.
struct RmiCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rmi", abstract: "Remove images.")

    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Remove an image even when several names point to it or a container uses it.")
    var force = false
    @Argument(help: "Image names or ids.") var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("rmi needs at least one image") }
    }

    func run() async throws {
        let stores = try Stores(global)
        var failed = false
        for name in images {
            do {
                let image = try await stores.store.image(named: name)
                let users = try await stores.store.containers(usingImage: image.id)
                if let user = users.first {
                    guard force else {
                        throw BerthError(
                            "conflict: unable to remove repository reference \"\(name)\" (must force) - container \(user.id.prefix(12)) is using its referenced image \(image.id.shortID)"
                        )
                    }
                    // Forced: the names go, the image stays for its containers (as docker does).
                    try await untagAll(image, store: stores.store)
                    continue
                }
                if let reference = try? ImageReference(parsing: name), image.tags.contains(reference.description) {
                    try await stores.store.untag(reference)
                    print("Untagged: \(reference.familiarName)")
                    if image.tags.count > 1 { continue }
                } else {
                    guard image.tags.count <= 1 || force else {
                        throw BerthError(
                            "conflict: unable to delete \(image.id.shortID) (must be forced) - image is referenced in multiple repositories"
                        )
                    }
                    try await untagAll(image, store: stores.store)
                    if force {
                        try await stores.store.deleteImage(image.id)
                        print("Deleted: \(image.id)")
                        continue
                    }
                }
                // Another process may have named the image since it was read: then it stays.
                if try await stores.store.deleteImageIfUnnamed(image.id) {
                    print("Deleted: \(image.id)")
                }
            } catch {
                FileHandle.standardError.write(Data("berth: error: \(name): \(error)\n".utf8))
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }

    /// Removes every name of `image`, saying so as docker does.
    private func untagAll(_ image: StoredImage, store: ImageStore) async throws {
        for tag in image.tags {
            let reference = try ImageReference(parsing: tag)
            try await store.untag(reference)
            print("Untagged: \(reference.familiarName)")
        }
    }
}

/// `berth inspect IMAGE…`: docker-shaped JSON.
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Show containers or images as JSON.")

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Only look for this kind: container or image.") var type: String?
    @Argument(help: "Container or image names or ids.") var images: [String]

    func run() async throws {
        let stores = try Stores(global)
        let manager = ContainerManager(store: stores.store, runtime: stores.runtime)
        var entries: [[String: Any]] = []
        for name in images {
            if type != "image", let container = try? await manager.container(name) {
                entries.append(try ContainerInspection.json(container))
                continue
            }
            if type == "container" { throw BerthError("No such container: \(name)") }
            let image = try await stores.store.image(named: name)
            let config = image.config
            let containerConfig = try JSONSerialization.jsonObject(
                with: Data(try CanonicalJSON.encode(config.config ?? ContainerConfig())))
            entries.append([
                "Id": image.id.description,
                "RepoTags": image.tags.compactMap { try? ImageReference(parsing: $0).familiarName },
                "RepoDigests": [String](),
                "Created": config.created ?? "",
                "Author": config.author ?? "",
                "Config": containerConfig,
                "Architecture": config.architecture,
                "Os": config.os,
                "Size": image.manifest.layers.reduce(Int64(0)) { $0 + $1.size },
                "RootFS": ["Type": "layers", "Layers": config.rootfs.diffIDs.map(\.description)],
                "Metadata": ["ManifestDigest": image.manifestDigest.description],
            ])
        }
        let data = try JSONSerialization.data(
            withJSONObject: entries, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }
}

/// `berth history [--no-trunc] IMAGE`.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Show the history of an image.")

    @OptionGroup var global: GlobalOptions
    @Flag(name: .customLong("no-trunc"), help: "Do not truncate output.") var noTrunc = false
    @Argument(help: "An image name or id.") var image: String

    func run() async throws {
        let stores = try Stores(global)
        let stored = try await stores.store.image(named: image)
        var layers = stored.manifest.layers.makeIterator()
        var rows: [[String]] = []
        for entry in stored.config.history ?? [] {
            let size = entry.emptyLayer == true ? Int64(0) : layers.next()?.size ?? 0
            var createdBy = entry.createdBy ?? ""
            if !noTrunc && createdBy.count > 45 { createdBy = String(createdBy.prefix(44)) + "…" }
            let created = entry.created.flatMap { ISO8601DateFormatter().date(from: String($0.prefix(19)) + "Z") }
            rows.append([
                "<missing>", created.map(ImagesCommand.ago) ?? "", createdBy, ImagesCommand.size(size),
                entry.comment ?? "",
            ])
        }
        if !rows.isEmpty { rows[rows.count - 1][0] = noTrunc ? stored.id.description : stored.id.shortID }
        print(
            Table.render(header: ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], rows: rows.reversed()),
            terminator: "")
    }
}

/// `berth load -i FILE`.
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load", abstract: "Load images from a docker save archive or an OCI layout tar.")

    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .customLong("input")], help: "The archive (default: standard input).") var input: String?
    @Flag(name: .shortAndLong, help: "Print nothing.") var quiet = false

    func run() async throws {
        let stores = try Stores(global)
        InterruptCleanup.install(stores.store)
        for loaded in try await ImageLoader(store: stores.store).load(input ?? "-") where !quiet {
            if loaded.tags.isEmpty {
                print("Loaded image ID: \(loaded.image.id)")
            }
            for tag in loaded.tags {
                print("Loaded image: \((try? ImageReference(parsing: tag).familiarName) ?? tag)")
            }
        }
    }
}

/// `berth export [-o FILE] IMAGE`.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write a container's or an image's file system as a tar.")

    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "Write to this file instead of standard output.") var output: String?
    @Argument(help: "A container, or an image name or id.") var image: String

    func run() async throws {
        let stores = try Stores(global)
        InterruptCleanup.install(stores.store)
        if output == nil && isatty(1) != 0 {
            throw BerthError("refusing to write an archive to a terminal; use -o FILE or redirect standard output")
        }
        let manager = ContainerManager(store: stores.store, runtime: stores.runtime)
        if let container = try? await manager.container(image) {
            try await manager.export(container, to: output ?? "-")
            return
        }
        try await ImageExporter(store: stores.store).export(image, to: output ?? "-")
    }
}
