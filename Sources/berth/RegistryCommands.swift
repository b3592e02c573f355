import ArgumentParser
import BuildEngine
import Foundation
import OCIImage
import Registry

/// Options of commands that talk to registries.
struct RegistryOptions: ParsableArguments {
    @Option(
        name: .customLong("insecure-registry"),
        help: ArgumentHelp(
            "Reach this registry over plain HTTP (localhost and 127.0.0.0/8 always are).", valueName: "host[:port]"))
    var insecureRegistry: [String] = []

    var settings: RegistrySettings { RegistrySettings.load(insecure: insecureRegistry) }
}

/// Progress lines on standard error.
@Sendable func reportProgress(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// `berth pull [--platform P] NAME[:TAG|@DIGEST]`
struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pull", abstract: "Pull an image from a registry.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var registry: RegistryOptions
    @Option(name: .long, help: "Platform, e.g. linux/arm64 (default: this machine's).") var platform: String?
    @Argument(help: "The image, e.g. debian:bookworm or host:5000/app@sha256:….") var name: String

    func run() async throws {
        let reference = try ImageReference(parsing: name)
        let wanted = try platform.map { try Platform(parsing: $0) } ?? .host
        let stores = try Stores(global)
        InterruptCleanup.install(stores.store)
        let image = try await ImagePuller(store: stores.store, settings: registry.settings, report: reportProgress)
            .pull(reference, platform: wanted)
        print(reference.digest == nil ? reference.description : image.id.description)
    }
}

/// `berth push NAME[:TAG]`
struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", abstract: "Push an image to a registry.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var registry: RegistryOptions
    @Argument(help: "The image, named with its registry (host:5000/app:1).") var name: String

    func run() async throws {
        let reference = try ImageReference(parsing: name)
        let stores = try Stores(global)
        InterruptCleanup.install(stores.store)
        let digest = try await ImagePusher(store: stores.store, settings: registry.settings, report: reportProgress)
            .push(name, as: reference)
        print(digest)
    }
}

/// `berth login [-u USER] [-p PASS | --password-stdin] [SERVER]`
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login", abstract: "Log in to a registry (credentials kept in docker's config.json).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var registry: RegistryOptions
    @Option(name: [.short, .customLong("username")], help: "User name.") var username: String?
    @Option(name: [.short, .customLong("password")], help: "Password (prefer --password-stdin).") var password: String?
    @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input.") var passwordStdin = false
    @Argument(help: "The registry (default docker.io).") var server: String = "docker.io"

    func run() async throws {
        guard let username else { throw ValidationError("login needs --username") }
        var secret = password
        if passwordStdin {
            secret = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .newlines)
        }
        guard let secret, !secret.isEmpty else { throw ValidationError("login needs a password (--password-stdin)") }
        let host = Self.registryName(server)
        let credentials = RegistryCredentials(username: username, password: secret)
        let probe = try ImageReference(parsing: host + "/login-probe")
        let endpoint = RegistryEndpoint(reference: probe, insecureRegistries: registry.settings.insecureRegistries)
        try await RegistryClient(endpoint: endpoint, credentials: credentials).ping()
        try DockerConfig(path: registry.settings.dockerConfig).store(credentials, for: host)
        print("Login Succeeded")
    }

    /// `https://index.docker.io/v1/` and friends name docker.io.
    static func registryName(_ server: String) -> String {
        var host = server
        for prefix in ["https://", "http://"] where host.hasPrefix(prefix) {
            host = String(host.dropFirst(prefix.count))
        }
        host = String(host.split(separator: "/").first ?? Substring(host))
        return ["index.docker.io", "registry-1.docker.io", "docker.io"].contains(host) ? "docker.io" : host
    }
}

/// `berth logout [SERVER]`
struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "Forget a registry's credentials.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The registry (default docker.io).") var server: String = "docker.io"

    func run() async throws {
        let host = LoginCommand.registryName(server)
        if try DockerConfig().remove(for: host) {
            print("Removing login credentials for \(host)")
        } else {
            print("Not logged in to \(host)")
        }
    }
}
