import ArgumentParser
import Foundation
import ImageStore
import OCIImage

/// `berth images`: the images in the store, as docker lists them.
struct ImagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "images", abstract: "List images.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .shortAndLong, help: "Only show image ids.")
    var quiet = false

    @Flag(name: .customLong("no-trunc"), help: "Show full image ids.")
    var noTrunc = false

    @Option(name: .long, help: "Output format: table (default) or json.")
    var format: String?

    func run() async throws {
        let stores = try Stores(global)
        let images = try await stores.store.images()
        var rows: [[String]] = []
        var json: [[String: String]] = []
        for image in images {
            let id = noTrunc ? image.id.description : image.id.shortID
            let size = image.manifest.layers.reduce(Int64(0)) { $0 + $1.size }
            let created = Date(timeIntervalSince1970: TimeInterval(image.created))
            let names = image.tags.compactMap { try? ImageReference(parsing: $0) }
            if quiet {
                print(id)
                continue
            }
            for reference in names.isEmpty ? [nil] : names.map(Optional.some) {
                let repository = reference?.familiarRepository ?? "<none>"
                let tag = reference?.tag ?? "<none>"
                rows.append([repository, tag, id, Self.ago(created), Self.size(size)])
                json.append([
                    "Repository": repository, "Tag": tag, "ID": id, "CreatedAt": Timestamp.rfc3339(created),
                    "Size": Self.size(size),
                ])
            }
        }
        if quiet { return }
        if format == "json" {
            for entry in json {
                let data = try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            }
            return
        }
        if let format, format != "table" { throw ValidationError("unknown --format '\(format)' (use table or json)") }
        print(Table.render(header: ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows: rows), terminator: "")
    }

    static func ago(_ date: Date) -> String {
        let seconds = Int(Date().timeIntervalSince(date))
        switch seconds {
        case ..<60: return "Less than a minute ago"
        case ..<3600: return "\(seconds / 60) minute\(seconds / 60 == 1 ? "" : "s") ago"
        case ..<86400: return "\(seconds / 3600) hour\(seconds / 3600 == 1 ? "" : "s") ago"
        default: return "\(seconds / 86400) day\(seconds / 86400 == 1 ? "" : "s") ago"
        }
    }

    static func size(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes)B" : String(format: value < 10 ? "%.2f%@" : "%.1f%@", value, units[unit])
    }
}

/// Left-aligned columns separated by three spaces, as docker prints its tables.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        var widths = header.map(\.count)
        for row in all {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        return all.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i] + 3, withPad: " ", startingAt: 0)
            }.joined()
        }.joined(separator: "\n") + "\n"
    }
}
