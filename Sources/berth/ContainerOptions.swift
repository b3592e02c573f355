import ArgumentParser
import BuildEngine
import ContainerRuntime
import Foundation
import ImageStore

/// The flags `run` (and `create`) share with docker.
struct ContainerOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Keep standard input open.") var interactive = false
    @Flag(name: .shortAndLong, help: "Allocate a pseudo-terminal.") var tty = false
    @Flag(name: .long, help: "Remove the container when it exits.") var rm = false
    @Option(name: .long, help: "Name of the container.") var name: String?
    @Option(name: [.short, .customLong("env")], help: "Set an environment variable (KEY=VALUE, or KEY to copy it).")
    var env: [String] = []
    @Option(name: .customLong("env-file"), help: "Read environment variables from a file.") var envFile: [String] = []
    @Option(
        name: [.short, .customLong("volume")], help: "Bind mount HOST:CONTAINER[:ro], or NAME:CONTAINER for a volume.")
    var volume: [String] = []
    @Option(name: .long, help: "Mount: type=bind|volume|tmpfs,source=…,target=…[,readonly].") var mount: [String] = []
    @Option(name: .long, help: "Mount a tmpfs: PATH[:OPTIONS].") var tmpfs: [String] = []
    @Option(name: [.short, .customLong("workdir")], help: "Working directory inside the container.") var workdir:
        String?
    @Option(name: [.short, .customLong("user")], help: "User: name, uid, name:group or uid:gid.") var user: String?
    @Option(name: .long, help: "Override the image's ENTRYPOINT.") var entrypoint: String?
    @Option(name: [.customShort("h"), .long], help: "Container host name.") var hostname: String?
    @Option(name: .long, help: "Network: host or none.") var network: String = "host"
    @Option(name: [.short, .customLong("memory")], help: "Memory limit (e.g. 64m, 1g).") var memory: String?
    @Option(name: .long, help: "Number of CPUs (e.g. 1.5).") var cpus: String?
    @Option(name: .customLong("pids-limit"), help: "Maximum number of processes (-1: unlimited).") var pidsLimit: Int64?
    @Flag(name: .customLong("read-only"), help: "Mount the root file system read-only.") var readOnly = false
    @Option(name: .customLong("cap-add"), help: "Add a capability (e.g. NET_ADMIN, ALL).") var capAdd: [String] = []
    @Option(name: .customLong("cap-drop"), help: "Drop a capability (e.g. CHOWN, ALL).") var capDrop: [String] = []
    @Flag(name: .long, help: "Give the container every capability, no seccomp filter, all devices.") var privileged =
        false
    @Option(
        name: .customLong("security-opt"),
        help: "seccomp=unconfined|PROFILE.json, or no-new-privileges[:true|false].")
    var securityOpt: [String] = []
    @Option(name: .customLong("stop-signal"), help: "Signal that stops the container (default SIGTERM).")
    var stopSignal: String?
    @Option(name: .customLong("stop-timeout"), help: "Seconds to wait after the stop signal (default 10).")
    var stopTimeout: Int?
    @Option(name: [.short, .customLong("label")], help: "Set a label (KEY=VALUE).") var label: [String] = []
    @Option(name: .long, help: "Resource limit: NAME=SOFT[:HARD] (nofile, nproc, …).") var ulimit: [String] = []
    @Flag(name: .long, help: "Run a minimal init as pid 1 that forwards signals and reaps processes.")
    var `init` = false
    @Option(name: .long, help: "User namespace: host (the default), or set by --uidmap and --gidmap.")
    var userns: String?
    @Option(
        name: .long,
        help: "Run in a user namespace mapping container uids CONTAINER:HOST:SIZE (e.g. 0:100000:65536); repeatable.")
    var uidmap: [String] = []
    @Option(name: .long, help: "Container gids CONTAINER:HOST:SIZE (default: the --uidmap mappings).")
    var gidmap: [String] = []

    /// The request these flags describe for `image` and `command`.
    func request(image: String, command: [String], store: ImageStore) throws -> ContainerManager.CreateRequest {
        var request = ContainerManager.CreateRequest(image: image)
        request.command = command
        request.entrypoint = entrypoint.map { $0.isEmpty ? [] : [$0] }
        request.environment = try environment()
        request.user = user
        request.workingDirectory = workdir
        guard ["host", "none"].contains(network) else {
            throw ValidationError("unsupported --network '\(network)': berth supports host and none")
        }
        request.network = network
        request.name = name
        request.hostname = hostname
        request.terminal = tty
        request.interactive = interactive
        request.autoRemove = rm
        request.mounts = try mounts(store: store)
        request.readOnly = readOnly
        request.capabilities = CapabilitySpec(add: capAdd, drop: capDrop, privileged: privileged)
        for option in securityOpt {
            let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
            let key = parts[0].split(separator: ":").first.map(String.init) ?? parts[0]
            switch key {
            case "seccomp":
                guard parts.count == 2 else { throw ValidationError("--security-opt seccomp needs a value") }
                request.seccomp = parts[1] == "unconfined" ? .unconfined : .profile(path: parts[1])
            case "no-new-privileges":
                let value =
                    parts.count == 2 ? parts[1] : String(option.dropFirst("no-new-privileges".count).drop { $0 == ":" })
                request.noNewPrivileges = value.isEmpty || value == "true"
            default:
                throw ValidationError("unsupported --security-opt '\(option)' (seccomp=…, no-new-privileges)")
            }
        }
        var resources = ResourceLimits()
        if let memory {
            guard let bytes = ByteSize.parse(memory), bytes > 0 else {
                throw ValidationError("invalid --memory '\(memory)': expected a size like 64m or 1g")
            }
            resources.memoryBytes = bytes
        }
        if let cpus {
            guard let value = Double(cpus), value > 0 else { throw ValidationError("invalid --cpus '\(cpus)'") }
            resources.cpuPeriod = 100_000
            resources.cpuQuota = Int64(value * 100_000)
        }
        resources.pidsLimit = pidsLimit
        request.resources = resources
        request.rlimits = try ulimit.map { text in
            do { return try ResourceLimit.parse(text) } catch { throw ValidationError("--ulimit: \(error)") }
        }
        if let stopSignal, SignalName.number(stopSignal) == nil {
            throw ValidationError("invalid --stop-signal '\(stopSignal)'")
        }
        request.runInit = `init`
        request.userNamespace = try userNamespace()
        request.stopSignal = stopSignal
        request.stopTimeout = stopTimeout
        for entry in label {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            request.labels[parts[0]] = parts.count == 2 ? parts[1] : ""
        }
        return request
    }

    /// `--userns`, `--uidmap` and `--gidmap`: nil for the host's users.
    private func userNamespace() throws -> UserNamespace? {
        if let userns, userns != "host" {
            throw ValidationError("unsupported --userns '\(userns)': use host, or give --uidmap/--gidmap")
        }
        if userns == "host" && !(uidmap.isEmpty && gidmap.isEmpty) {
            throw ValidationError("--userns host cannot be combined with --uidmap/--gidmap")
        }
        func parse(_ list: [String], flag: String) throws -> [IDMapping] {
            try list.map { text in
                guard let mapping = IDMapping(parsing: text) else {
                    throw ValidationError(
                        "invalid \(flag) '\(text)': expected CONTAINER:HOST:SIZE, e.g. 0:100000:65536")
                }
                return mapping
            }
        }
        let uids = try parse(uidmap, flag: "--uidmap")
        let gids = try parse(gidmap, flag: "--gidmap")
        if uids.isEmpty && gids.isEmpty { return nil }
        guard !uids.isEmpty else { throw ValidationError("--gidmap needs --uidmap as well") }
        return UserNamespace(uidMappings: uids, gidMappings: gids.isEmpty ? uids : gids)
    }

    /// `-e` and `--env-file` entries; `KEY` alone takes berth's own value (or is left out).
    private func environment() throws -> [String] {
        var entries: [String] = []
        for file in envFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ValidationError("cannot read --env-file '\(file)'")
            }
            for line in text.split(separator: "\n") {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                entries.append(trimmed)
            }
        }
        entries += env
        return entries.compactMap { entry in
            if entry.contains("=") { return entry }
            return ProcessInfo.processInfo.environment[entry].map { "\(entry)=\($0)" }
        }
    }

    /// `-v`, `--mount` and `--tmpfs` as runtime mounts; named volumes live in the store.
    private func mounts(store: ImageStore) throws -> [MountSpec] {
        var result: [MountSpec] = []
        for spec in volume {
            let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard (2...3).contains(parts.count), !parts[0].isEmpty, parts[1].startsWithSlash else {
                throw ValidationError("invalid -v '\(spec)': expected HOST:CONTAINER[:ro] or NAME:CONTAINER")
            }
            let readOnly = parts.count == 3 && parts[2].split(separator: ",").contains("ro")
            result.append(
                MountSpec(kind: .bind, source: try source(parts[0], store: store), target: parts[1], readOnly: readOnly)
            )
        }
        for spec in mount {
            var fields: [String: String] = [:]
            var readOnly = false
            for field in spec.split(separator: ",") {
                let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
                if pair.count == 1 && ["readonly", "ro"].contains(pair[0]) {
                    readOnly = true
                } else if pair.count == 2 {
                    fields[pair[0]] = pair[1]
                }
            }
            if let value = fields["readonly"] ?? fields["ro"] { readOnly = value != "false" }
            guard let target = fields["target"] ?? fields["destination"] ?? fields["dst"], target.startsWithSlash else {
                throw ValidationError("invalid --mount '\(spec)': target=/path is required")
            }
            switch fields["type"] ?? "volume" {
            case "bind":
                guard let source = fields["source"] ?? fields["src"], source.startsWithSlash else {
                    throw ValidationError("invalid --mount '\(spec)': a bind mount needs an absolute source")
                }
                result.append(MountSpec(kind: .bind, source: source, target: target, readOnly: readOnly))
            case "volume":
                let name = fields["source"] ?? fields["src"] ?? UUID().uuidString.lowercased()
                result.append(
                    MountSpec(kind: .bind, source: try source(name, store: store), target: target, readOnly: readOnly))
            case "tmpfs":
                let options = fields["tmpfs-size"].map { "size=\($0)" } ?? ""
                result.append(MountSpec(kind: .tmpfs, target: target, readOnly: readOnly, options: options))
            default:
                throw ValidationError("invalid --mount '\(spec)': type must be bind, volume or tmpfs")
            }
        }
        for spec in tmpfs {
            let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts[0].startsWithSlash else {
                throw ValidationError("invalid --tmpfs '\(spec)': path must be absolute")
            }
            result.append(MountSpec(kind: .tmpfs, target: parts[0], options: parts.count == 2 ? parts[1] : ""))
        }
        return result
    }

    /// A host path as is; a name is a volume under the store's `volumes/`, created on first use.
    private func source(_ text: String, store: ImageStore) throws -> String {
        if text.startsWithSlash {
            guard FileManager.default.fileExists(atPath: text) else {
                throw ValidationError("bind source path does not exist: \(text)")
            }
            return text
        }
        guard text.allSatisfy({ $0.isLetter || $0.isNumber || "_.-".contains($0) }) else {
            throw ValidationError("invalid volume name '\(text)'")
        }
        let path = store.root + "/volumes/" + text + "/_data"
        try FileSystem.makeDirectory(path)
        return path
    }
}
