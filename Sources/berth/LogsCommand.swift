import ArgumentParser
import BuildEngine
import Foundation
import ImageStore

/// `berth logs [-f] [--tail N] [-t] CONTAINER`: what the container wrote, from its log.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Show a container's output.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Follow the output until the container exits.") var follow = false
    @Option(name: [.customShort("n"), .customLong("tail")], help: "Number of lines from the end (default all).")
    var tail: String?
    @Flag(name: [.short, .customLong("timestamps")], help: "Show timestamps.") var timestamps = false
    @Argument(help: "The container.") var container: String

    func run() async throws {
        let lines =
            try tail.map { text -> Int? in
                if text == "all" { return nil }
                guard let value = Int(text), value >= 0 else { throw ValidationError("invalid --tail '\(text)'") }
                return value
            } ?? nil
        let stores = try Stores(global)
        let manager = ContainerManager(store: stores.store, runtime: stores.runtime)
        let record = try await manager.container(container)
        let directory = stores.store.containerDirectory(record.id)
        var (entries, offset) = ContainerLog.read(directory: directory)
        if let lines { entries = Array(entries.suffix(lines)) }
        emit(entries)
        guard follow else { return }
        await stores.store.releaseUseLock()
        while true {
            let current = try await manager.container(record.id)
            let (more, next) = ContainerLog.read(directory: directory, from: offset)
            offset = next
            emit(more)
            if current.state != .running {
                // One last read: the monitor may have written after we looked.
                emit(ContainerLog.read(directory: directory, from: offset).entries)
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private func emit(_ entries: [ContainerLog.Entry]) {
        for entry in entries {
            let text = (timestamps ? entry.time + " " : "") + entry.log
            let handle = entry.stream == "stderr" ? FileHandle.standardError : FileHandle.standardOutput
            handle.write(Data(text.utf8))
        }
    }
}
