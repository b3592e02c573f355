import ArgumentParser

/// `berth system …`: the store as a whole.
struct SystemCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "system", abstract: "Manage the store: disk use, clean-up and consistency checks.",
        subcommands: [SystemDfCommand.self, SystemPruneCommand.self, SystemCheckCommand.self])
}

/// `berth image …`: docker's image management verbs.
struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Manage images.", subcommands: [ImagePruneCommand.self])
}

/// `berth container …`: docker's container management verbs.
struct ContainerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "container", abstract: "Manage containers.", subcommands: [ContainerPruneCommand.self])
}
