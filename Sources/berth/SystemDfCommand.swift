import ArgumentParser
import Foundation
import ImageStore

/// `berth system df`: disk use by kind, as docker prints it.
struct SystemDfCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "df", abstract: "Show the store's disk use.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Output format: table (default) or json.")
    var format: String?

    func validate() throws {
        if let format, format != "table", format != "json" {
            throw ValidationError("unknown --format '\(format)' (use table or json)")
        }
    }

    func run() async throws {
        let stores = try Stores(global)
        let usage = try await stores.store.usage()
        let lines: [(String, StoreUsage.Line?)] = [
            ("Images", usage.images), ("Containers", nil), ("Local Volumes", nil), ("Build Cache", usage.buildCache),
        ]
        if format == "json" {
            for (type, line) in lines {
                let entry: [String: Any] = [
                    "Type": type, "TotalCount": line?.total ?? 0, "Active": line?.active ?? 0,
                    "Size": ImagesCommand.size(line?.size ?? 0), "Reclaimable": reclaimable(line),
                ]
                let data = try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            }
            return
        }
        let rows = lines.map { type, line in
            [
                type, "\(line?.total ?? 0)", "\(line?.active ?? 0)", ImagesCommand.size(line?.size ?? 0),
                reclaimable(line),
            ]
        }
        print(Table.render(header: ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], rows: rows), terminator: "")
    }

    private func reclaimable(_ line: StoreUsage.Line?) -> String {
        guard let line else { return "0B" }
        let percent = line.size > 0 ? Int((Double(line.reclaimable) / Double(line.size) * 100).rounded()) : 0
        return "\(ImagesCommand.size(line.reclaimable)) (\(percent)%)"
    }
}
