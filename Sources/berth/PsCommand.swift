import ArgumentParser
import BuildEngine
import Foundation
import ImageStore

/// `berth ps`: containers, as docker lists them.
struct PsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers.")

    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Show all containers (default: running only).") var all = false
    @Flag(name: .shortAndLong, help: "Only show container ids.") var quiet = false
    @Flag(name: .customLong("no-trunc"), help: "Do not truncate output.") var noTrunc = false
    @Option(name: .long, help: "Output format: table (default) or json.") var format: String?

    func validate() throws {
        if let format, format != "table", format != "json" {
            throw ValidationError("unknown --format '\(format)' (use table or json)")
        }
    }

    func run() async throws {
        let stores = try Stores(global)
        let manager = ContainerManager(store: stores.store, runtime: stores.runtime)
        var rows: [[String]] = []
        for record in try await manager.containers() where all || record.state == .running {
            let id = noTrunc ? record.id : String(record.id.prefix(12))
            if quiet {
                print(id)
                continue
            }
            let configuration = try? ContainerConfiguration.decode(record.configJSON)
            var command = (configuration?.spec.process.args ?? []).joined(separator: " ")
            if !noTrunc && command.count > 20 { command = String(command.prefix(19)) + "…" }
            let created = ContainerStatus.date(record.created).map { ImagesCommand.ago($0) } ?? ""
            let row = [id, record.imageName, "\"\(command)\"", created, ContainerStatus.text(record), "", record.name]
            if format == "json" {
                let keys = ["ID", "Image", "Command", "CreatedAt", "Status", "Ports", "Names"]
                var object = Dictionary(uniqueKeysWithValues: zip(keys, row))
                object["State"] = record.state.rawValue
                object["Command"] = "\"\((configuration?.spec.process.args ?? []).joined(separator: " "))\""
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                rows.append(row)
            }
        }
        if quiet || format == "json" { return }
        print(
            Table.render(
                header: ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows: rows),
            terminator: "")
    }
}

/// docker's STATUS column: `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`.
enum ContainerStatus {
    static func text(_ record: ContainerRecord) -> String {
        switch record.state {
        case .created: return "Created"
        case .running:
            let since = record.startedAt.flatMap(date) ?? Date()
            return "Up " + duration(Date().timeIntervalSince(since))
        case .exited:
            let since = record.finishedAt.flatMap(date) ?? Date()
            return "Exited (\(record.exitCode ?? 0)) " + duration(Date().timeIntervalSince(since)) + " ago"
        }
    }

    static func duration(_ seconds: TimeInterval) -> String {
        let value = Int(seconds)
        switch value {
        case ..<1: return "Less than a second"
        case ..<60: return "\(value) second\(value == 1 ? "" : "s")"
        case ..<3600: return "\(value / 60) minute\(value / 60 == 1 ? "" : "s")"
        case ..<86400: return "\(value / 3600) hour\(value / 3600 == 1 ? "" : "s")"
        default: return "\(value / 86400) day\(value / 86400 == 1 ? "" : "s")"
        }
    }

    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
