import ArgumentParser
import ContainerRuntime
import Foundation

/// The `berth` command: a daemonless, docker-compatible image builder and runner.
struct Berth: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "Build and run OCI images from Dockerfiles, without a daemon.",
        version: version,
        subcommands: [
            BuildCommand.self, RunCommand.self, ImagesCommand.self, ImportCommand.self, SaveCommand.self,
            LoadCommand.self,
            ExportCommand.self, TagCommand.self, RmiCommand.self, InspectCommand.self, HistoryCommand.self,
            ImageCommand.self, SystemCommand.self, BuilderCommand.self, CreateCommand.self, StartCommand.self,
            StopCommand.self,
            RestartCommand.self, KillCommand.self, WaitCommand.self, RmCommand.self, RenameCommand.self,
            DiffCommand.self,
            CommitCommand.self, PsCommand.self, LogsCommand.self, ExecCommand.self, ContainerCommand.self,
            MonitorCommand.self, CpCommand.self, PullCommand.self, PushCommand.self, LoginCommand.self,
            LogoutCommand.self,
        ])
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long, help: ArgumentHelp("Store directory (default /var/lib/berth, or $BERTH_ROOT).", valueName: "dir"))
    var root: String?

    @Flag(name: .long, help: "Print debugging details.")
    var debug = false

    /// The store directory in effect.
    var storeRoot: String {
        let path = root ?? ProcessInfo.processInfo.environment["BERTH_ROOT"] ?? "/var/lib/berth"
        return path.startsWithSlash ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
