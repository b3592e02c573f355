import ContainerRuntime
import DockerfileSyntax
import Foundation
import ImageStore
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// Where a bind or cache mount reads from: the build context, a stage's or an image's files.
struct RunMountRoot {
    var root: SourceRoot
    /// What names the source in a cache mount's scope: `context`, the stage's key, the image id.
    var identity: String
}

/// One `RUN --mount`, resolved for a step: its absolute target and what it adds to the key.
struct PreparedRunMount {
    var spec: RunMountSpec
    /// Absolute, clean; nil for a secret exposed only as an environment variable.
    var target: String?
    var root: RunMountRoot?
    /// bind (and a cache's seed): the source, resolved inside `root`.
    var selection: SelectedSource?
    /// The id of a cache, secret or ssh mount.
    var id: String = ""
    var keyParts: [String]
}

/// What a RUN's mounts give the container, and what to undo afterwards.
final class RunMountSetup {
    var mounts: [MountSpec] = []
    var environment: [String] = []
    private var leases: [CacheMountLease] = []
    private var forwarders: [AgentForwarder] = []
    private var mountPoints: [String] = []
    private var directories: [String] = []

    func hold(_ lease: CacheMountLease) { leases.append(lease) }
    func hold(_ forwarder: AgentForwarder) { forwarders.append(forwarder) }
    func mounted(_ path: String) { mountPoints.append(path) }
    func created(_ path: String) { directories.append(path) }

    /// Unmounts and removes everything made for the step, releases cache locks.
    func tearDown() {
        for forwarder in forwarders { forwarder.stop() }
        forwarders.removeAll()
        for path in mountPoints.reversed() where umount2(path, 0) != 0 {
            umount2(path, Int32(MNT_DETACH))
        }
        mountPoints.removeAll()
        for path in directories.reversed() { try? FileSystem.removeTree(path) }
        directories.removeAll()
        for lease in leases { lease.release() }
        leases.removeAll()
    }
}

extension StageBuilder {
    /// Parses RUN's `--mount` values, expanding them with the stage's ARG and ENV values.
    func runMountSpecs(_ run: RunCommand, state: State) throws -> [RunMountSpec] {
        let shell = ShellExpander(escapeToken: escapeToken)
        return try run.mounts.map { text in
            do {
                return try RunMountSpec.parse(text) { try shell.expand($0) { state.lookup($0) } }
            } catch let error as RunMountError {
                throw BuildError("invalid --mount '\(text)': \(error.message)")
            } catch {
                throw BuildError("invalid --mount '\(text)': \(error)")
            }
        }
    }

    /// Runs `body` with the source roots of `specs` (nil for mounts that read none) available:
    /// stage and image files as read-only views, the context as is.
    func withRunMountRoots<T>(
        _ specs: [RunMountSpec], from index: Int = 0, _ roots: [RunMountRoot?] = [],
        _ body: ([RunMountRoot?]) async throws -> T
    ) async throws -> T {
        guard index < specs.count else { return try await body(roots) }
        let spec = specs[index]
        func next(_ root: RunMountRoot?) async throws -> T {
            try await withRunMountRoots(specs, from: index + 1, roots + [root], body)
        }
        guard spec.type == .bind || spec.type == .cache else { return try await next(nil) }
        guard let from = spec.from, !from.isEmpty else {
            if spec.type == .cache { return try await next(nil) }
            return try await next(
                RunMountRoot(
                    root: SourceRoot(
                        hostPath: session.options.contextPath, ignore: session.ignore, label: "build context"),
                    identity: "context"))
        }
        if let stageIndex = earlierStage(from), let result = session.result(ofStage: stageIndex) {
            return try await session.snapshotter.withReadOnlyView(of: result.lowerChain) { path in
                try await next(
                    RunMountRoot(
                        root: SourceRoot(hostPath: path, ignore: nil, label: "stage \(from)"),
                        identity: "stage:" + result.key.value))
            }
        }
        let image: StoredImage
        do {
            image = try await session.store.image(named: from)
        } catch {
            throw BuildError("--mount from=\(from): no stage or image of that name: \(error)")
        }
        let layers = try await snapshots(of: image)
        return try await session.snapshotter.withReadOnlyView(of: layers.reversed()) { path in
            try await next(
                RunMountRoot(
                    root: SourceRoot(hostPath: path, ignore: nil, label: "image \(from)"),
                    identity: "image:" + image.id.encoded))
        }
    }

    /// Resolves targets and sources and computes each mount's part of the RUN key: the spec, and
    /// for bind mounts the content hash of what is bound. Never a secret's value.
    func prepareRunMounts(
        _ specs: [RunMountSpec], roots: [RunMountRoot?], state: State
    ) async throws -> [PreparedRunMount] {
        let workdir = state.containerConfig.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        func absolute(_ target: String) throws -> String {
            let path = RootedPath.clean(target.startsWithSlash ? target : workdir + "/" + target)
            guard path != "/" else { throw BuildError("invalid mount target \"/\"") }
            return path
        }
        var prepared: [PreparedRunMount] = []
        var sshCount = 0
        for (spec, root) in zip(specs, roots) {
            let flags = [
                "ro=\(spec.readOnly)", "mode=\(spec.mode.map { String($0, radix: 8) } ?? "")",
                "uid=\(spec.uid.map(String.init) ?? "")", "gid=\(spec.gid.map(String.init) ?? "")",
            ]
            switch spec.type {
            case .bind:
                guard let root else { throw BuildError("internal error: bind mount without a source root") }
                let target = try absolute(spec.target ?? "")
                let source = RootedPath.clean(spec.source ?? "/")
                let selection = try selectBindSource(source, in: root.root)
                let statCache: ContentHash.StatCache? =
                    root.root.hostPath == session.options.contextPath
                    ? ContentHash.StatCache(
                        known: try await session.store.statDirectories(under: session.options.contextPath)) : nil
                let hash = try ContentHash.of([selection], in: root.root, cache: statCache)
                if let statCache { try await session.store.updateStatDirectories(statCache.learned) }
                prepared.append(
                    PreparedRunMount(
                        spec: spec, target: target, root: root, selection: selection,
                        keyParts: ["bind", target, source, hash] + flags))
            case .cache:
                let target = try absolute(spec.target ?? "")
                let id = spec.id.flatMap { $0.isEmpty ? nil : $0 } ?? target
                var seed: SelectedSource?
                if let root {
                    let source = RootedPath.clean(spec.source ?? "/")
                    let selection = try selectBindSource(source, in: root.root)
                    seed = selection
                    guard selection.isDirectory else {
                        throw BuildError("cache mount source \(source) in the \(root.root.label) is not a directory")
                    }
                }
                prepared.append(
                    PreparedRunMount(
                        spec: spec, target: target, root: root, selection: seed, id: id,
                        keyParts: [
                            "cache", target, id, (spec.sharing ?? .shared).rawValue, root?.identity ?? "",
                            spec.source ?? "",
                        ] + flags))
            case .tmpfs:
                let target = try absolute(spec.target ?? "")
                prepared.append(
                    PreparedRunMount(
                        spec: spec, target: target,
                        keyParts: ["tmpfs", target, spec.size.map(String.init) ?? ""] + flags))
            case .secret:
                guard let id = spec.secretID, !id.isEmpty else {
                    throw BuildError("secret mount needs an id, source or target")
                }
                let target: String?
                if let written = spec.target {
                    target = try absolute(written)
                } else {
                    let name = id.slashComponents().last ?? id
                    target = spec.env == nil ? try absolute("/run/secrets/" + name) : nil
                }
                prepared.append(
                    PreparedRunMount(
                        spec: spec, target: target, id: id,
                        keyParts: [
                            "secret", id, target ?? "", spec.env ?? "", "required=\(spec.required)",
                        ] + flags))
            case .ssh:
                let id = spec.id.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
                let target = try spec.target.map(absolute) ?? "/run/buildkit/ssh_agent.\(sshCount)"
                sshCount += 1
                prepared.append(
                    PreparedRunMount(
                        spec: spec, target: target, id: id,
                        keyParts: ["ssh", id, target, "required=\(spec.required)"] + flags))
            }
        }
        return prepared
    }

    /// The bind source `path` inside `root`, symlinks resolved inside it, as a selection.
    private func selectBindSource(_ path: String, in root: SourceRoot) throws -> SelectedSource {
        let (host, relative) = try root.resolve(path, what: "mount source \(path)")
        var st = stat()
        guard lstat(host, &st) == 0,
            relative.isEmpty || root.ignore.map({ !$0.isExcluded(relative) }) ?? true
        else {
            throw BuildError("mount source \"\(path)\" not found in the \(root.label)")
        }
        return SelectedSource(relativePath: relative, hostPath: host, status: st)
    }

    /// Makes the host side of each mount (cache directories, copies, secret files in a tmpfs)
    /// and returns the runtime mounts; `setup.tearDown()` undoes it.
    func setUpRunMounts(_ prepared: [PreparedRunMount], into setup: RunMountSetup) async throws {
        let store = session.store
        var secretDirectory: String?
        var sshSocketSet = false
        for mount in prepared {
            let spec = mount.spec
            switch spec.type {
            case .bind:
                guard let target = mount.target, let selection = mount.selection, let root = mount.root else {
                    continue
                }
                let filtered = root.root.ignore.map { !$0.isEmpty } ?? false
                var host = selection.hostPath
                if (filtered && selection.isDirectory) || (!spec.readOnly && !selection.isDirectory) {
                    // A copy: .dockerignore applied, or a writable file whose writes are dropped.
                    let copy = store.temporaryPath("bind")
                    setup.created(copy)
                    try FileCopier(uid: 0, gid: 0, chmod: nil, sourceRoot: root.root).copy(selection, to: copy)
                    host = copy
                } else if !spec.readOnly {
                    host = try writableOverlay(over: selection.hostPath, setup: setup)
                }
                setup.mounts.append(MountSpec(kind: .bind, source: host, target: target, readOnly: spec.readOnly))
            case .cache:
                guard let target = mount.target else { continue }
                let seedRoot = mount.root
                let seed = mount.selection
                let lease = try await store.openCacheMount(
                    id: mount.id, scope: (mount.root?.identity ?? "") + "\u{0}" + (spec.source ?? ""),
                    sharing: CacheMountSharing(rawValue: (spec.sharing ?? .shared).rawValue) ?? .shared,
                    uid: spec.uid ?? 0, gid: spec.gid ?? 0, mode: spec.mode ?? 0o755
                ) { directory in
                    guard let seedRoot, let seed else { return }
                    try FileCopier(uid: 0, gid: 0, chmod: nil, sourceRoot: seedRoot.root).copy(seed, to: directory)
                }
                setup.hold(lease)
                setup.mounts.append(MountSpec(kind: .bind, source: lease.path, target: target, readOnly: spec.readOnly))
            case .tmpfs:
                guard let target = mount.target else { continue }
                setup.mounts.append(
                    MountSpec(
                        kind: .tmpfs, target: target, readOnly: spec.readOnly,
                        options: spec.size.map { "size=\($0)" } ?? ""))
            case .secret:
                guard let source = session.options.secrets[mount.id] else {
                    if spec.required {
                        throw BuildError(
                            "secret \(mount.id): not provided (pass it with --secret id=\(mount.id),src=FILE or env=VAR)"
                        )
                    }
                    continue
                }
                let bytes = try source.read(id: mount.id)
                if let name = spec.env {
                    setup.environment.append(name + "=" + String(decoding: bytes, as: UTF8.self))
                }
                guard let target = mount.target else { continue }
                if secretDirectory == nil {
                    let directory = try secretTmpfs(setup: setup)
                    secretDirectory = directory
                }
                guard let directory = secretDirectory else { continue }
                let file = directory + "/" + String(setup.mounts.count)
                try writeSecret(bytes, to: file, mode: spec.mode ?? 0o400, uid: spec.uid ?? 0, gid: spec.gid ?? 0)
                setup.mounts.append(MountSpec(kind: .bind, source: file, target: target, readOnly: true))
            case .ssh:
                guard let target = mount.target else { continue }
                guard let socket = session.options.sshAgents[mount.id] else {
                    if spec.required {
                        throw BuildError("ssh agent \(mount.id): not provided (pass it with --ssh \(mount.id)=SOCKET)")
                    }
                    continue
                }
                // A forwarding socket with the mount's owner and mode (default 0:0 0600).
                let directory = store.temporaryPath("ssh")
                guard mkdir(directory, 0o700) == 0 else {
                    throw BuildError("cannot create \(directory): \(String(cString: strerror(errno)))")
                }
                setup.created(directory)
                let forwarder = try AgentForwarder(
                    agent: socket, path: directory + "/agent", uid: spec.uid ?? 0, gid: spec.gid ?? 0,
                    mode: spec.mode ?? 0o600)
                setup.hold(forwarder)
                setup.mounts.append(MountSpec(kind: .bind, source: forwarder.path, target: target, readOnly: false))
                if !sshSocketSet {
                    setup.environment.append("SSH_AUTH_SOCK=" + target)
                    sshSocketSet = true
                }
            }
        }
        // Parents before children, so a mount inside another mount's target lands on top.
        let ordered = setup.mounts.enumerated().sorted { a, b in
            let depthA = a.element.target.slashComponents().count
            let depthB = b.element.target.slashComponents().count
            return depthA != depthB ? depthA < depthB : a.offset < b.offset
        }
        setup.mounts = ordered.map { $0.element }
    }

    /// A writable overlay over `directory`: writes land in a throwaway upper directory.
    private func writableOverlay(over directory: String, setup: RunMountSetup) throws -> String {
        let base = session.store.temporaryPath("bind-rw")
        setup.created(base)
        for name in ["upper", "work", "merged"] { try FileSystem.makeDirectory(base + "/" + name) }
        let escaped = directory.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: ",", with: "\\,").replacingOccurrences(of: ":", with: "\\:")
        let options =
            "lowerdir=\(escaped),upperdir=\(base)/upper,workdir=\(base)/work,redirect_dir=off,metacopy=off,index=off"
        guard Glibc.mount("overlay", base + "/merged", "overlay", 0, options) == 0 else {
            throw BuildError("cannot mount a writable view of \(directory): \(String(cString: strerror(errno)))")
        }
        setup.mounted(base + "/merged")
        return base + "/merged"
    }

    /// A small tmpfs for the step's secret files: mounted in berth's private mount namespace, so
    /// the bytes never reach a disk and vanish with the mount (or with berth).
    private func secretTmpfs(setup: RunMountSetup) throws -> String {
        let directory = session.store.temporaryPath("secrets")
        guard mkdir(directory, 0o700) == 0 else {
            throw BuildError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        setup.created(directory)
        guard
            Glibc.mount("tmpfs", directory, "tmpfs", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), "mode=0700,size=16m")
                == 0
        else {
            throw BuildError("cannot mount a tmpfs for secrets: \(String(cString: strerror(errno)))")
        }
        setup.mounted(directory)
        return directory
    }

    private func writeSecret(_ bytes: [UInt8], to path: String, mode: UInt32, uid: UInt32, gid: UInt32) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw BuildError("cannot create a secret file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard FileSystem.writeAll(fd, bytes) else {
            throw BuildError("cannot write a secret file: \(String(cString: strerror(errno)))")
        }
        guard fchown(fd, uid, gid) == 0, fchmod(fd, mode_t(mode)) == 0 else {
            throw BuildError("cannot set the secret file's owner and mode: \(String(cString: strerror(errno)))")
        }
    }
}
