import ContainerRuntime
import Foundation
import ImageStore
import OCIImage
import Snapshots
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Containers kept in the store: create, run (in the foreground or under a monitor), stop,
/// remove. Every state change is recorded, so any berth process can tell what runs.
public struct ContainerManager: Sendable {
    public let store: ImageStore
    public let runtime: ContainerRuntime

    public init(store: ImageStore, runtime: ContainerRuntime) {
        self.store = store
        self.runtime = runtime
    }

    /// What `run` / `create` asked for.
    public struct CreateRequest: Sendable {
        public var image: String
        public var command: [String] = []
        public var entrypoint: [String]?
        public var environment: [String] = []
        public var user: String?
        public var workingDirectory: String?
        public var network: String = "host"
        public var name: String?
        public var hostname: String?
        public var terminal = false
        public var interactive = false
        public var autoRemove = false
        public var mounts: [MountSpec] = []
        public var readOnly = false
        public var capabilities = CapabilitySpec.docker
        public var seccomp = SeccompMode.dockerDefault
        public var noNewPrivileges = false
        public var resources = ResourceLimits()
        public var rlimits: [ResourceLimit] = []
        public var stopSignal: String?
        public var stopTimeout: Int?
        public var labels: [String: String] = [:]
        public var runInit = false
        public var userNamespace: UserNamespace?

        public init(image: String) {
            self.image = image
        }
    }

    /// Records a new container from `request`, with its own directory; it is not started.
    public func create(_ request: CreateRequest) async throws -> ContainerRecord {
        let image = try await store.image(named: request.image)
        let config = image.config.config ?? ContainerConfig()
        let entrypoint = request.entrypoint ?? config.entrypoint ?? []
        let command =
            request.command.isEmpty && request.entrypoint == nil ? (config.cmd ?? []) : request.command
        guard !(entrypoint + command).isEmpty else {
            throw RunError("no command specified: the image has no CMD or ENTRYPOINT and none was given")
        }
        var env = config.env ?? []
        for entry in request.environment {
            let name = entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry
            env.removeAll { $0.hasPrefix(name + "=") }
            env.append(entry)
        }
        let id = Digest.sha256(of: Array(UUID().uuidString.utf8)).encoded
        let hostname = request.hostname ?? String(id.prefix(12))
        if request.terminal && !env.contains(where: { $0.hasPrefix("TERM=") }) { env.append("TERM=xterm") }
        var spec = ContainerSpec(
            rootPath: "", readonlyRoot: request.readOnly,
            process: ProcessSpec(
                args: entrypoint + command, env: env,
                cwd: request.workingDirectory ?? config.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/",
                user: request.user ?? config.user ?? "", terminal: request.terminal, rlimits: request.rlimits),
            hostname: hostname, network: request.network == "none" ? .none : .host, mounts: request.mounts,
            capabilities: request.capabilities,
            seccomp: request.capabilities.privileged ? .unconfined : request.seccomp,
            noNewPrivileges: request.noNewPrivileges, resources: request.resources)
        spec.runInit = request.runInit
        spec.userNamespace = request.userNamespace
        var labels = config.labels ?? [:]
        for (key, value) in request.labels { labels[key] = value }
        let configuration = ContainerConfiguration(
            spec: spec, entrypoint: entrypoint, interactive: request.interactive, autoRemove: request.autoRemove,
            stopSignal: request.stopSignal ?? config.stopSignal ?? "SIGTERM", stopTimeout: request.stopTimeout ?? 10,
            labels: labels)
        if let name = request.name, !Self.isValidName(name) {
            throw RunError("invalid container name \"\(name)\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        }
        var name = request.name ?? ContainerName.random()
        if request.name == nil, (try? await store.container(named: name)) != nil { name += "_\(id.prefix(4))" }
        let record = ContainerRecord(
            id: id, name: name, imageID: image.id, imageName: request.image, configJSON: try configuration.encoded(),
            created: Timestamp.rfc3339(Date()))
        try await store.createContainer(record)
        do {
            try FileSystem.makeDirectory(store.containerDirectory(id))
        } catch {
            try? await store.deleteContainer(id)
            throw error
        }
        return record
    }

    /// Starts the container and waits for it: mounts its root (image layers below its own
    /// upper directory), records it running, runs it, records how it ended, and removes it when
    /// it was created with `--rm`. `onStart` gets the init pid.
    public func run(
        _ record: ContainerRecord, io: ProcessIO, onStart: (@Sendable (pid_t) -> Void)? = nil
    ) async throws -> ExitStatus {
        var record = try await reconciled(record)
        guard record.state != .running else { throw RunError("container \(record.name) is already running") }
        let configuration = try ContainerConfiguration.decode(record.configJSON)
        let image = try await store.image(named: record.imageID.description)
        let snapshotter = Snapshotter(store: store)
        let layers = try await snapshotter.snapshots(of: image)
        let active = try snapshotter.prepareContainer(
            directory: store.containerDirectory(record.id), parent: layers.last)
        try? snapshotter.unmount(active)
        // A `--rm` container's upper directory is removed when it exits: no sync at unmount.
        try snapshotter.mount(active, lowers: layers.reversed(), volatile: configuration.autoRemove)
        // From here the record protects everything this container uses.
        await store.releaseUseLock()
        var spec = configuration.spec
        spec.rootPath = active.rootPath
        let started = Mutex<Task<Void, Never>?>(nil)
        let store = self.store
        let id = record.id
        let status: ExitStatus
        do {
            status = try await runtime.run(
                id: record.id, spec: spec, io: io, stateIn: store.containerDirectory(record.id)
            ) { pid in
                let startTime = ProcessLiveness.startTime(of: pid)
                let task = Task {
                    guard var running = try? await store.container(named: id) else { return }
                    running.state = .running
                    running.pid = pid
                    running.pidStartTime = startTime
                    running.monitorPID = getpid()
                    running.exitCode = nil
                    running.startedAt = Timestamp.rfc3339(Date())
                    running.finishedAt = nil
                    try? await store.updateContainer(running)
                }
                started.withLock { $0 = task }
                // The record says "running" before anyone is told the container started.
                let recorded = DispatchSemaphore(value: 0)
                Task {
                    await task.value
                    recorded.signal()
                }
                recorded.wait()
                onStart?(pid)
            }
        } catch {
            await started.withLock { $0 }?.value
            try? snapshotter.unmount(active)
            try await finish(&record, exitCode: RunError.exitCode(for: error), remove: configuration.autoRemove)
            throw error
        }
        await started.withLock { $0 }?.value
        try? snapshotter.unmount(active)
        try await finish(&record, exitCode: status.code, remove: configuration.autoRemove)
        return status
    }

    private func finish(_ record: inout ContainerRecord, exitCode: Int32, remove: Bool) async throws {
        if remove {
            _ = try await store.removeContainerDirectory(record.id, thorough: false)
            try await store.deleteContainer(record.id)
            return
        }
        record = (try? await store.container(named: record.id)) ?? record
        record.state = .exited
        record.exitCode = exitCode
        record.pid = nil
        record.pidStartTime = nil
        record.monitorPID = nil
        record.finishedAt = Timestamp.rfc3339(Date())
        try await store.updateContainer(record)
    }

    /// The record with a truthful state: a container recorded as running whose process is gone
    /// (its berth or monitor was killed) is recorded as exited, with status 137.
    public func reconciled(_ record: ContainerRecord) async throws -> ContainerRecord {
        guard record.state == .running, !ProcessLiveness.isAlive(record.pid, startTime: record.pidStartTime) else {
            return record
        }
        var record = record
        record.state = .exited
        record.exitCode = record.exitCode ?? 137
        record.pid = nil
        record.pidStartTime = nil
        record.monitorPID = nil
        record.finishedAt = record.finishedAt ?? Timestamp.rfc3339(Date())
        try await store.updateContainer(record)
        return record
    }

    /// Looks a container up by name or id prefix, reconciled.
    public func container(_ name: String) async throws -> ContainerRecord {
        try await reconciled(try await store.container(named: name))
    }

    /// Every container, reconciled.
    public func containers() async throws -> [ContainerRecord] {
        var result: [ContainerRecord] = []
        for record in try await store.containers() { result.append(try await reconciled(record)) }
        return result
    }

    /// Sends `signal` to the container's init.
    public func kill(_ record: ContainerRecord, signal: Int32) throws {
        guard record.state == .running, let pid = record.pid else {
            throw RunError("container \(record.name) is not running")
        }
        guard Glibc.kill(pid, signal) == 0 else {
            throw RunError("cannot signal container \(record.name): \(String(cString: strerror(errno)))")
        }
    }

    /// Sends the stop signal, waits up to `timeout` seconds, then SIGKILL; returns once the
    /// container has exited (and its end is recorded).
    public func stop(_ record: ContainerRecord, timeout: Int?) async throws -> ContainerRecord {
        var current = try await reconciled(record)
        guard current.state == .running, let pid = current.pid else { return current }
        let configuration = try ContainerConfiguration.decode(current.configJSON)
        let signal = SignalName.number(configuration.stopSignal) ?? SIGTERM
        Glibc.kill(pid, signal)
        let deadline = Date().addingTimeInterval(TimeInterval(timeout ?? configuration.stopTimeout))
        while Date() < deadline, ProcessLiveness.isAlive(pid, startTime: current.pidStartTime) {
            try await Task.sleep(for: .milliseconds(20))
        }
        if ProcessLiveness.isAlive(pid, startTime: current.pidStartTime) { Glibc.kill(pid, SIGKILL) }
        current = try await wait(current)
        return current
    }

    /// Waits until the container is not running; returns its final record.
    public func wait(_ record: ContainerRecord) async throws -> ContainerRecord {
        var current = record
        while true {
            current = try await reconciled(try await store.container(named: record.id))
            // The owner records the exit status right after the process ends.
            if current.state != .running { return current }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Removes a container (a running one only with `force`, which kills it first).
    public func remove(_ record: ContainerRecord, force: Bool) async throws {
        var current = try await reconciled(record)
        if current.state == .running {
            guard force else {
                throw RunError(
                    "cannot remove container \(current.name): container is running: stop the container before removing or force remove"
                )
            }
            try? kill(current, signal: SIGKILL)
            current = try await wait(current)
        }
        _ = try await store.removeContainerDirectory(current.id)
        try await store.deleteContainer(current.id)
    }

    /// Renames a container.
    public func rename(_ record: ContainerRecord, to name: String) async throws {
        guard Self.isValidName(name) else { throw RunError("invalid container name \"\(name)\"") }
        if let other = try? await store.container(named: name), other.id != record.id {
            throw RunError("Error response: Conflict. The container name \"/\(name)\" is already in use")
        }
        var current = try await store.container(named: record.id)
        current.name = name
        try await store.updateContainer(current)
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first.isNumber else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) }
    }

    /// The container's upper directory (its changes, in overlay form).
    public func upperDirectory(_ record: ContainerRecord) -> String {
        store.containerDirectory(record.id) + "/fs"
    }

    /// The image layers below the container, topmost first.
    func imageLayers(_ record: ContainerRecord) async throws -> [String] {
        let image = try await store.image(named: record.imageID.description)
        let snapshotter = Snapshotter(store: store)
        return try await snapshotter.snapshots(of: image).reversed().map { snapshotter.filesPath(of: $0.id) }
    }
}

/// A container failure that is not the container's own status (create, start, stop, cp).
public struct RunError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension RunError {
    /// docker's codes: 127 command not found, 126 not executable, 125 anything else.
    public static func exitCode(for error: any Error) -> Int32 {
        if let runtime = error as? RuntimeError { return runtime.dockerExitCode }
        return 125
    }
}
