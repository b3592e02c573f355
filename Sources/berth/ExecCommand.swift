import ArgumentParser
import BuildEngine
import ContainerRuntime
import Foundation
import ImageStore

/// `berth exec [-i] [-t] [-u] [-w] [-e] CONTAINER COMMAND…`: a new process in a running
/// container, in its namespaces and cgroups, confined like it.
struct ExecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec", abstract: "Run a command in a running container.")
    @OptionGroup var global: GlobalOptions
    @Flag(name: .shortAndLong, help: "Keep standard input open.") var interactive = false
    @Flag(name: .shortAndLong, help: "Allocate a pseudo-terminal.") var tty = false
    @Option(name: [.short, .customLong("user")], help: "User: name, uid, name:group or uid:gid.") var user: String?
    @Option(name: [.short, .customLong("workdir")], help: "Working directory.") var workdir: String?
    @Option(name: [.short, .customLong("env")], help: "Set an environment variable.") var env: [String] = []
    @Argument(help: "The container.") var container: String
    @Argument(parsing: .captureForPassthrough, help: "Command and arguments.") var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("exec needs a command") }
    }

    func run() async throws {
        let stores: Stores
        let record: ContainerRecord
        let manager: ContainerManager
        do {
            stores = try Stores(global)
            manager = ContainerManager(store: stores.store, runtime: stores.runtime)
            record = try await manager.container(container)
        } catch {
            FileHandle.standardError.write(Data("berth: error: \(error)\n".utf8))
            throw ExitCode(125)
        }
        guard record.state == .running, let pid = record.pid else {
            FileHandle.standardError.write(Data("berth: error: container \(record.name) is not running\n".utf8))
            throw ExitCode(125)
        }
        let configuration = try ContainerConfiguration.decode(record.configJSON)
        var environment = configuration.spec.process.env
        for entry in env where entry.contains("=") {
            let name = String(entry.split(separator: "=", maxSplits: 1)[0])
            environment.removeAll { $0.hasPrefix(name + "=") }
            environment.append(entry)
        }
        let process = ProcessSpec(
            args: command, env: environment, cwd: workdir ?? configuration.spec.process.cwd,
            user: user ?? configuration.spec.process.user, terminal: tty,
            rlimits: configuration.spec.process.rlimits)
        await stores.store.releaseUseLock()
        let streams = try ContainerStreams(terminal: tty, interactive: interactive, attached: true, log: nil)
        let forwarder = SignalForwarder(timeout: 10)
        defer {
            forwarder.stop()
            streams.finish()
        }
        do {
            let status = try await stores.runtime.exec(
                into: pid, spec: configuration.spec, process: process, io: streams.io
            ) {
                child in
                streams.started()
                forwarder.forward(to: child)
            }
            throw ExitCode(status.code)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            streams.restoreTerminal()
            FileHandle.standardError.write(Data("berth: error: \(error)\n".utf8))
            throw ExitCode(RunError.exitCode(for: error))
        }
    }
}
