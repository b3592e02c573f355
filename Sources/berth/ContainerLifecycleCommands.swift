import ArgumentParser
import BuildEngine
import Foundation
import ImageStore
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `body` for every named container, printing errors and failing at the end, as docker does.
func forEachContainer(
    _ names: [String], _ global: GlobalOptions, _ body: (ContainerManager, ContainerRecord) async throws -> Void
) async throws {
    let stores = try Stores(global)
    let manager = ContainerManager(store: stores.store, runtime: stores.runtime)
    var failed = false
    for name in names {
        do {
            try await body(manager, try await manager.container(name))
        } catch {
            FileHandle.standardError.write(Data("berth: error: \(error)\n".utf8))
            failed = true
        }
    }
    if failed { throw ExitCode(1) }
}

/// `berth create`: a container, not started.
struct CreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a new container.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ContainerOptions
    @Argument(help: "The image.") var image: String
    @Argument(parsing: .captureForPassthrough, help: "Command and arguments.") var command: [String] = []

    func run() async throws {
        let stores = try Stores(global)
        let manager = ContainerManager(store: stores.store, runtime: stores.runtime)
        print(try await manager.create(try options.request(image: image, command: command, store: stores.store)).id)
    }
}

/// `berth start [-a] [-i] CONTAINER…`: starts stopped containers (detached, or attached with -a).
struct StartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start stopped containers.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Attach standard output and error; exit with the container's status.")
    var attach = false
    @Flag(name: .shortAndLong, help: "Attach standard input.") var interactive = false
    @Argument(help: "Containers.") var containers: [String]

    func run() async throws {
        if attach || interactive {
            guard containers.count == 1 else { throw ValidationError("you cannot attach to more than one container") }
            let stores = try Stores(global)
            let manager = ContainerManager(store: stores.store, runtime: stores.runtime)
            let record = try await manager.container(containers[0])
            let configuration = try ContainerConfiguration.decode(record.configJSON)
            throw ExitCode(
                try await ContainerSession.runAttached(
                    record, manager: manager, terminal: configuration.spec.process.terminal, interactive: interactive,
                    keepLog: true, stopTimeout: configuration.stopTimeout))
        }
        try await forEachContainer(containers, global) { manager, record in
            if record.state != .running { try MonitorLauncher.start(id: record.id, root: manager.store.root) }
            print(record.name)
        }
    }
}

/// `berth stop [-t N] CONTAINER…`
struct StopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop running containers.")
    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .customLong("time")], help: "Seconds to wait before killing.") var time: Int?
    @Argument(help: "Containers.") var containers: [String]

    func run() async throws {
        try await forEachContainer(containers, global) { manager, record in
            _ = try await manager.stop(record, timeout: time)
            print(record.name)
        }
    }
}

/// `berth restart [-t N] CONTAINER…`
struct RestartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: "Restart containers.")
    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .customLong("time")], help: "Seconds to wait before killing.") var time: Int?
    @Argument(help: "Containers.") var containers: [String]

    func run() async throws {
        try await forEachContainer(containers, global) { manager, record in
            _ = try await manager.stop(record, timeout: time)
            try MonitorLauncher.start(id: record.id, root: manager.store.root)
            print(record.name)
        }
    }
}

/// `berth kill [-s SIGNAL] CONTAINER…`
struct KillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Send a signal to containers.")
    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .customLong("signal")], help: "Signal to send (default KILL).") var signal = "KILL"
    @Argument(help: "Containers.") var containers: [String]

    func run() async throws {
        guard let number = SignalName.number(signal) else { throw ValidationError("invalid signal '\(signal)'") }
        try await forEachContainer(containers, global) { manager, record in
            try manager.kill(record, signal: number)
            print(record.name)
        }
    }
}

/// `berth wait CONTAINER…`: prints each exit code once it has exited.
struct WaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wait", abstract: "Wait for containers to exit.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Containers.") var containers: [String]

    func run() async throws {
        try await forEachContainer(containers, global) { manager, record in
            print(try await manager.wait(record).exitCode ?? 0)
        }
    }
}

/// `berth rm [-f] [-v] CONTAINER…`
struct RmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove containers.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Kill and remove a running container.") var force = false
    @Flag(name: .shortAndLong, help: "Remove anonymous volumes too (berth keeps none per container).")
    var volumes = false
    @Argument(help: "Containers.") var containers: [String]

    func run() async throws {
        try await forEachContainer(containers, global) { manager, record in
            try await manager.remove(record, force: force)
            print(record.name)
        }
    }
}

/// `berth rename OLD NEW`
struct RenameCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rename", abstract: "Rename a container.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The container.") var container: String
    @Argument(help: "Its new name.") var name: String

    func run() async throws {
        try await forEachContainer([container], global) { manager, record in
            try await manager.rename(record, to: name)
        }
    }
}

/// `berth diff CONTAINER`: docker's A/C/D lines.
struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "Show a container's changes to its image's files.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The container.") var container: String

    func run() async throws {
        try await forEachContainer([container], global) { manager, record in
            for change in try await manager.changes(record) { print(change) }
        }
    }
}

/// `berth commit [-m] [-a] [-c]… [--pause] CONTAINER [REPO[:TAG]]`
struct CommitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commit", abstract: "Create an image from a container's changes.")
    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .customLong("message")], help: "Commit message.") var message: String?
    @Option(name: [.short, .customLong("author")], help: "Author.") var author: String?
    @Option(name: [.short, .customLong("change")], help: "Apply a Dockerfile instruction (CMD, ENV, …).")
    var changes: [String] = []
    @Option(name: [.short, .customLong("pause")], help: "Freeze the container while committing (default true).")
    var pause = true
    @Argument(help: "The container.") var container: String
    @Argument(help: "Name for the image.") var reference: String?

    func run() async throws {
        var request = ContainerManager.CommitRequest()
        request.message = message
        request.author = author
        request.changes = changes
        request.pause = pause
        request.reference = try reference.map { try ImageReference(parsing: $0) }
        try await forEachContainer([container], global) { manager, record in
            print(try await manager.commit(record, request).id)
        }
    }
}

/// `berth container prune [-f]`: removes stopped containers.
struct ContainerPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove stopped containers.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Do not ask for confirmation.") var force = false

    func run() async throws {
        guard force || Confirmation.ask("This will remove all stopped containers.") else { return }
        let stores = try Stores(global)
        let report = try await stores.store.prune(
            PruneRequest(danglingImages: false, stoppedContainers: true), onWait: Confirmation.waitingNotice)
        if !report.deletedContainers.isEmpty {
            print("Deleted Containers:")
            for id in report.deletedContainers { print(id) }
            print("")
        }
        print("Total reclaimed space: \(ImagesCommand.size(report.reclaimedBytes))")
    }
}
