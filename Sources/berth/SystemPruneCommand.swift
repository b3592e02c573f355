import ArgumentParser
import Foundation
import ImageStore
import OCIImage

/// `berth system prune [-a] [-f] [--keep-storage SIZE]`: unnamed images, the build cache, and
/// everything only they kept.
struct SystemPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune", abstract: "Remove unnamed images, build cache and unreferenced data.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Remove all images, not just unnamed ones.")
    var all = false

    @Flag(name: .shortAndLong, help: "Do not ask for confirmation.")
    var force = false

    @Option(
        name: .customLong("keep-storage"),
        help: ArgumentHelp(
            "Keep the most recently used build cache up to this size (e.g. 512MB, 2GB).", valueName: "size"))
    var keepStorage: String?

    func run() async throws {
        let keep = try ByteSize.keepStorage(keepStorage)
        let warning =
            all
            ? "This will remove:\n  - all stopped containers\n  - all images without a container\n  - all build cache\n  - all data nothing references"
            : "This will remove:\n  - all stopped containers\n  - all unnamed images\n  - all build cache\n  - all data nothing references"
        guard force || Confirmation.ask(warning) else { return }
        let stores = try Stores(global)
        let report = try await stores.store.prune(
            PruneRequest(
                danglingImages: true, allImages: all, buildCache: true, keepStorage: keep, stoppedContainers: true),
            onWait: Confirmation.waitingNotice)
        PruneOutput.print(report)
    }
}

/// `berth image prune [-a] [-f]`: unnamed images (all with `-a`).
struct ImagePruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unnamed images.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Remove all images, not just unnamed ones.")
    var all = false

    @Flag(name: .shortAndLong, help: "Do not ask for confirmation.")
    var force = false

    func run() async throws {
        let warning = all ? "This will remove all images." : "This will remove all unnamed images."
        guard force || Confirmation.ask(warning) else { return }
        let stores = try Stores(global)
        let report = try await stores.store.prune(
            PruneRequest(danglingImages: true, allImages: all), onWait: Confirmation.waitingNotice)
        PruneOutput.print(report)
    }
}

/// docker's prune report.
enum PruneOutput {
    static func print(_ report: PruneReport) {
        if !report.deletedContainers.isEmpty {
            Swift.print("Deleted Containers:")
            for id in report.deletedContainers { Swift.print(id) }
            Swift.print("")
        }
        if !report.untagged.isEmpty || !report.deletedImages.isEmpty {
            Swift.print("Deleted Images:")
            for tag in report.untagged {
                Swift.print("untagged: \((try? ImageReference(parsing: tag))?.familiarName ?? tag)")
            }
            for id in report.deletedImages { Swift.print("deleted: \(id)") }
            Swift.print("")
        }
        if !report.deletedCacheRecords.isEmpty {
            Swift.print("Deleted build cache objects:")
            for key in report.deletedCacheRecords {
                Swift.print(String(key.replacingOccurrences(of: "sha256:", with: "").prefix(25)))
            }
            Swift.print("")
        }
        Swift.print("Total reclaimed space: \(ImagesCommand.size(report.reclaimedBytes))")
    }
}

/// Asking before destroying things, as docker does.
enum Confirmation {
    /// Prints `warning` and reads y/N from standard input.
    static func ask(_ warning: String) -> Bool {
        FileHandle.standardOutput.write(Data("WARNING! \(warning)\nAre you sure you want to continue? [y/N] ".utf8))
        guard let answer = readLine() else {
            Swift.print("")
            return false
        }
        return ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased())
    }

    /// Said when other berth processes hold the store.
    @Sendable static func waitingNotice() {
        FileHandle.standardError.write(
            Data("berth: waiting for other berth processes using the store to finish…\n".utf8))
    }
}

/// Sizes as docker's `--keep-storage` and `--memory` take them: a number with an optional
/// binary unit (b, k, m, g, t, p; `kb`, `kib` and `k` all mean 1024).
enum ByteSize {
    /// `--keep-storage`'s value (system prune and builder prune), nil when not given.
    static func keepStorage(_ text: String?) throws -> Int64? {
        try text.map { value in
            guard let bytes = parse(value) else {
                throw ValidationError("invalid --keep-storage '\(value)': expected a size like 512MB or 2GB")
            }
            return bytes
        }
    }

    static func parse(_ text: String) -> Int64? {
        let lower = text.trimmingCharacters(in: .whitespaces).lowercased()
        let digits = lower.prefix { $0.isNumber || $0 == "." }
        guard !digits.isEmpty, let number = Double(digits), number >= 0 else { return nil }
        var unit = String(lower.dropFirst(digits.count)).trimmingCharacters(in: .whitespaces)
        for suffix in ["ib", "b"] where unit.count > suffix.count && unit.hasSuffix(suffix) {
            unit = String(unit.dropLast(suffix.count))
            break
        }
        let powers: [String: Double] = ["": 0, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5]
        guard let power = powers[unit] else { return nil }
        let bytes = number * pow(1024, power)
        guard bytes < Double(Int64.max) else { return nil }
        return Int64(bytes)
    }
}
