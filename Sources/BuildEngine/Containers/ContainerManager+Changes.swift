import ContainerRuntime
import Foundation
import ImageStore
import LayerArchive
import OCIImage
import Snapshots

#if canImport(Glibc)
    import Glibc
#endif

/// One line of `diff`: A (added), C (changed) or D (deleted).
public struct ContainerChange: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case added = "A"
        case changed = "C"
        case deleted = "D"
    }
    public var kind: Kind
    public var path: String
    public var description: String { "\(kind.rawValue) \(path)" }
}

extension ContainerManager {
    /// docker diff: the container's changes against its image, sorted by path.
    public func changes(_ record: ContainerRecord) async throws -> [ContainerChange] {
        let configuration = try ContainerConfiguration.decode(record.configJSON)
        let excluded = configuration.spec.mountPointPaths
        let upper = upperDirectory(record)
        let lowers = try await imageLayers(record)
        return try await Snapshotter(store: store).withReadOnlyView(ofDirectories: lowers) { lower in
            var result: [ContainerChange] = []
            Self.walkChanges(upper: upper, lower: lower, relative: "", excluded: excluded, into: &result)
            return result.sorted { $0.path < $1.path }
        }
    }

    private static func walkChanges(
        upper: String, lower: String, relative: String, excluded: Set<String>, into result: inout [ContainerChange]
    ) {
        let directory = relative.isEmpty ? upper : upper + "/" + relative
        guard let names = try? FileSystem.listDirectory(directory) else { return }
        for name in names {
            let path = relative.isEmpty ? name : relative + "/" + name
            if excluded.contains(path) { continue }
            var st = stat()
            guard lstat(upper + "/" + path, &st) == 0 else { continue }
            var below = stat()
            let inLower = lstat(lower + "/" + path, &below) == 0
            let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
            if (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0 {
                if inLower { result.append(ContainerChange(kind: .deleted, path: "/" + path)) }
                continue
            }
            result.append(ContainerChange(kind: inLower ? .changed : .added, path: "/" + path))
            guard isDirectory else { continue }
            if inLower && Self.isOpaque(upper + "/" + path) {
                // Replaced wholesale: what the image had there and the container lacks is gone.
                let kept = Set((try? FileSystem.listDirectory(upper + "/" + path)) ?? [])
                for child in (try? FileSystem.listDirectory(lower + "/" + path)) ?? [] where !kept.contains(child) {
                    result.append(ContainerChange(kind: .deleted, path: "/" + path + "/" + child))
                }
            }
            walkChanges(upper: upper, lower: lower, relative: path, excluded: excluded, into: &result)
        }
    }

    static func isOpaque(_ path: String) -> Bool {
        LayerArchive.isOpaqueDirectory(path)
    }

    /// What `commit` was asked for.
    public struct CommitRequest: Sendable {
        public var message: String?
        public var author: String?
        public var changes: [String] = []
        public var pause = true
        public var reference: ImageReference?

        public init() {}
    }

    /// docker commit: the container's upper directory becomes one new layer on its image, with
    /// the container's command, environment, user and working directory in the config, then
    /// `changes` applied. A running container is frozen meanwhile (unless `pause` is false).
    public func commit(_ record: ContainerRecord, _ request: CommitRequest) async throws -> StoredImage {
        let record = try await reconciled(record)
        let configuration = try ContainerConfiguration.decode(record.configJSON)
        let image = try await store.image(named: record.imageID.description)
        var config = image.config
        var container = config.config ?? ContainerConfig()
        container.env = configuration.spec.process.env
        container.entrypoint = configuration.entrypoint.isEmpty ? nil : configuration.entrypoint
        container.cmd = configuration.command.isEmpty ? nil : configuration.command
        container.workingDir =
            configuration.spec.process.cwd == "/" ? container.workingDir : configuration.spec.process.cwd
        container.user = configuration.spec.process.user.isEmpty ? container.user : configuration.spec.process.user
        container.labels = configuration.labels.isEmpty ? container.labels : configuration.labels
        try ConfigChange.apply(changes: request.changes, to: &container)
        config.config = container

        let tarPath = store.temporaryPath("commit")
        defer { unlink(tarPath) }
        let frozen = request.pause && record.state == .running ? record.pid : nil
        if let frozen { try ContainerRuntime.freeze(pid: frozen, true) }
        let layer: LayerDigest
        do {
            layer = try LayerArchive.writeDiff(
                upperDirectory: upperDirectory(record), to: tarPath,
                options: LayerWriteOptions(excludedPaths: configuration.spec.mountPointPaths))
        } catch {
            if let frozen { try? ContainerRuntime.freeze(pid: frozen, false) }
            throw error
        }
        if let frozen { try ContainerRuntime.freeze(pid: frozen, false) }
        let descriptor = try await store.ingestFile(
            at: tarPath, digest: layer.diffID, size: layer.size, mediaType: MediaType.ociLayer)
        let now = Timestamp.rfc3339(Date())
        config.created = now
        config.author = request.author ?? config.author
        config.rootfs.diffIDs.append(layer.diffID)
        var history = config.history ?? []
        history.append(
            History(
                created: now, createdBy: configuration.spec.process.args.joined(separator: " "),
                author: request.author, comment: request.message))
        config.history = history
        let stored = try await store.putImage(config: config, layers: image.manifest.layers + [descriptor])
        if let reference = request.reference { try await store.tag(stored.id, as: reference) }
        return try await store.image(named: stored.id.description)
    }

    /// docker export of a container: its file system (image layers and its changes) as one tar.
    public func export(_ record: ContainerRecord, to path: String) async throws {
        let configuration = try ContainerConfiguration.decode(record.configJSON)
        let directories = [upperDirectory(record)] + (try await imageLayers(record))
        let output = path == "-" ? "/dev/stdout" : path
        try await Snapshotter(store: store).withReadOnlyView(ofDirectories: directories) { root in
            _ = try LayerArchive.writeTree(
                directory: root, to: output,
                options: LayerWriteOptions(
                    preserveHoles: true, excludedPaths: configuration.spec.mountPointPaths),
                skipOverlayWhiteouts: true)
        }
    }
}
