import ContainerRuntime
import Foundation
import ImageStore
import OCIImage
import Snapshots

/// `berth run`: an image's layers plus a fresh upper directory, mounted and started in the
/// runtime core with the image's defaults (entrypoint, cmd, env, user, working dir).
public struct ContainerLauncher: Sendable {
    public let store: ImageStore
    public let runtime: ContainerRuntime

    public init(store: ImageStore, runtime: ContainerRuntime) {
        self.store = store
        self.runtime = runtime
    }

    /// What to run and how.
    public struct Request: Sendable {
        public var image: String
        public var command: [String]
        public var entrypoint: [String]?
        public var environment: [String]
        public var user: String?
        public var workingDirectory: String?
        public var network: String

        public init(
            image: String, command: [String] = [], entrypoint: [String]? = nil, environment: [String] = [],
            user: String? = nil, workingDirectory: String? = nil, network: String = "host"
        ) {
            self.image = image
            self.command = command
            self.entrypoint = entrypoint
            self.environment = environment
            self.user = user
            self.workingDirectory = workingDirectory
            self.network = network
        }
    }

    /// Runs the container in the foreground with berth's standard streams; returns its status.
    public func run(_ request: Request) async throws -> ExitStatus {
        let image = try await store.image(named: request.image)
        let config = image.config.config ?? ContainerConfig()
        let snapshotter = Snapshotter(store: store)
        let layers = try await snapshotter.snapshots(of: image)
        let args =
            (request.entrypoint ?? config.entrypoint ?? [])
            + (request.command.isEmpty && request.entrypoint == nil ? (config.cmd ?? []) : request.command)
        guard !args.isEmpty else {
            throw RunError("no command specified: the image has no CMD or ENTRYPOINT and none was given")
        }
        var env = config.env ?? []
        for entry in request.environment {
            let name = entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry
            env.removeAll { $0.hasPrefix(name + "=") }
            env.append(entry)
        }
        // Containers are not kept yet (the containers issue adds them), so their upper
        // directory is always scratch.
        let active = try snapshotter.prepareScratch(parent: layers.last)
        let id = Digest.sha256(of: Array(UUID().uuidString.utf8)).encoded
        do {
            try snapshotter.mount(active, lowers: layers.reversed())
            let spec = ContainerSpec(
                rootPath: active.rootPath,
                process: ProcessSpec(
                    args: args, env: env,
                    cwd: request.workingDirectory ?? config.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/",
                    user: request.user ?? config.user ?? ""),
                hostname: String(id.prefix(12)),
                network: request.network == "none" ? .none : .host)
            let status = try await runtime.run(id: id, spec: spec, io: .inherit)
            try snapshotter.discardScratch(active)
            return status
        } catch {
            try? snapshotter.discardScratch(active)
            throw error
        }
    }
}

/// A `berth run` failure before the container started.
public struct RunError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
