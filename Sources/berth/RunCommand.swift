import ArgumentParser
import BuildEngine
import ContainerRuntime
import Foundation
import ImageStore

/// `berth run`: create a container from an image and start it, in the foreground or detached.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run a command in a new container.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: ContainerOptions

    @Flag(name: .shortAndLong, help: "Run in the background and print the container id.")
    var detach = false

    @Argument(help: "The image.")
    var image: String

    @Argument(parsing: .captureForPassthrough, help: "Command and arguments.")
    var command: [String] = []

    func run() async throws {
        let stores: Stores
        do {
            stores = try Stores(global)
        } catch {
            FileHandle.standardError.write(Data("berth: error: \(error)\n".utf8))
            throw ExitCode(125)
        }
        let manager = ContainerManager(store: stores.store, runtime: stores.runtime)
        let record: ContainerRecord
        do {
            record = try await manager.create(try options.request(image: image, command: command, store: stores.store))
            if detach {
                try MonitorLauncher.start(id: record.id, root: stores.store.root)
                print(record.id)
                return
            }
        } catch let error as ValidationError {
            throw error
        } catch {
            FileHandle.standardError.write(Data("berth: error: \(error)\n".utf8))
            throw ExitCode(125)
        }
        let status = try await ContainerSession.runAttached(
            record, manager: manager, terminal: options.tty, interactive: options.interactive,
            keepLog: !options.rm, stopTimeout: options.stopTimeout ?? 10)
        throw ExitCode(status)
    }
}

/// A container run in the foreground: streams wired to berth's, signals forwarded.
enum ContainerSession {
    /// Runs `record` attached; returns the exit code berth should end with (docker's rules).
    static func runAttached(
        _ record: ContainerRecord, manager: ContainerManager, terminal: Bool, interactive: Bool, keepLog: Bool,
        stopTimeout: Int
    ) async throws -> Int32 {
        let log = keepLog ? ContainerLog(directory: manager.store.containerDirectory(record.id)) : nil
        let streams: ContainerStreams
        do {
            streams = try ContainerStreams(terminal: terminal, interactive: interactive, attached: true, log: log)
        } catch {
            FileHandle.standardError.write(Data("berth: error: \(error)\n".utf8))
            return 125
        }
        let forwarder = SignalForwarder(timeout: stopTimeout)
        defer {
            forwarder.stop()
            streams.finish()
        }
        do {
            let status = try await manager.run(record, io: streams.io) { pid in
                streams.started()
                forwarder.forward(to: pid)
            }
            return status.code
        } catch {
            streams.restoreTerminal()
            FileHandle.standardError.write(Data("berth: error: \(error)\n".utf8))
            return RunError.exitCode(for: error)
        }
    }
}
