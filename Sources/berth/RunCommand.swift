import ArgumentParser
import BuildEngine
import ContainerRuntime
import Foundation

/// `berth run`: start a container from an image in the foreground.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run a command in a new container.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Remove the container when it exits (containers are not kept yet, so this is always so).")
    var rm = false

    @Option(name: [.short, .customLong("env")], help: "Set an environment variable (KEY=VALUE).")
    var env: [String] = []

    @Option(name: [.short, .customLong("user")], help: "User to run as (name, uid, name:group, uid:gid).")
    var user: String?

    @Option(name: [.short, .customLong("workdir")], help: "Working directory inside the container.")
    var workdir: String?

    @Option(name: .long, help: "Override the image's ENTRYPOINT.")
    var entrypoint: String?

    @Option(name: .long, help: "Network: host or none.")
    var network: String = "host"

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
        let request = ContainerLauncher.Request(
            image: image, command: command, entrypoint: entrypoint.map { $0.isEmpty ? [] : [$0] }, environment: env,
            user: user, workingDirectory: workdir, network: network)
        let launcher = ContainerLauncher(store: stores.store, runtime: stores.runtime)
        let task = Task { try await launcher.run(request) }
        let interrupt = SignalCancellation { task.cancel() }
        defer { interrupt.stop() }
        do {
            let status = try await task.value
            throw ExitCode(status.code)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            if let signal = interrupt.received { throw ExitCode(128 + signal) }
            FileHandle.standardError.write(Data("berth: error: \(error)\n".utf8))
            throw ExitCode(Self.exitCode(for: error))
        }
    }

    /// docker's codes: 127 command not found, 126 not executable, 125 anything else.
    static func exitCode(for error: any Error) -> Int32 {
        if let runtime = error as? RuntimeError { return runtime.dockerExitCode }
        return 125
    }
}
