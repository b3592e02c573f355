import ContainerRuntime
import DockerfileSyntax
import Foundation
import OCIImage

/// Instructions that only change an image's container config (ENV, LABEL, CMD, ENTRYPOINT, USER,
/// EXPOSE, VOLUME, STOPSIGNAL, SHELL, HEALTHCHECK, ONBUILD, WORKDIR): shared by the build's
/// metadata steps and by `import --change` / `commit --change`.
public enum ConfigChange {
    /// The instructions `--change` accepts, as docker's import and commit do.
    public static let changeKeywords: Set<String> = [
        "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
    ]

    /// Applies `command` to `config`; returns the parts that feed a build cache key, or nil when
    /// the instruction is not a config change. `cmdSet` tracks whether CMD was set, since
    /// ENTRYPOINT resets an inherited CMD.
    static func apply(_ command: Command, to config: inout ContainerConfig, cmdSet: inout Bool) throws -> [String]? {
        switch command {
        case .env(let env):
            for pair in env.pairs { config.setEnvironment(pair.key, pair.value) }
            return env.pairs.map { "\($0.key)=\($0.value)" }
        case .label(let label):
            var labels = config.labels ?? [:]
            for pair in label.pairs { labels[pair.key] = pair.value }
            config.labels = labels
            return label.pairs.map { "\($0.key)=\($0.value)" }
        case .cmd(let cmd):
            config.cmd = commandArray(cmd.command, shell: config.shell)
            cmdSet = true
            return config.cmd ?? []
        case .entrypoint(let entrypoint):
            config.entrypoint = commandArray(entrypoint.command, shell: config.shell)
            if !cmdSet { config.cmd = nil }
            return config.entrypoint ?? []
        case .user(let user):
            config.user = user.user
            return [user.user]
        case .expose(let expose):
            var ports = config.exposedPorts ?? [:]
            for spec in expose.ports {
                for port in try exposedPorts(spec) { ports[port] = EmptyObject() }
            }
            config.exposedPorts = ports
            return expose.ports
        case .volume(let volume):
            var volumes = config.volumes ?? [:]
            for path in volume.paths where !path.isEmpty { volumes[path] = EmptyObject() }
            config.volumes = volumes
            return volume.paths
        case .stopSignal(let signal):
            config.stopSignal = signal.signal
            return [signal.signal]
        case .shell(let shell):
            config.shell = shell.shell
            return shell.shell
        case .healthcheck(let check):
            if check.test.first?.uppercased() == "NONE" {
                config.healthcheck = Healthcheck(test: ["NONE"])
            } else {
                config.healthcheck = Healthcheck(
                    test: check.test, interval: check.interval, timeout: check.timeout,
                    startPeriod: check.startPeriod, startInterval: check.startInterval, retries: check.retries)
            }
            return check.test
        case .onbuild(let onbuild):
            config.onBuild = (config.onBuild ?? []) + [onbuild.expression]
            return [onbuild.expression]
        case .workdir(let workdir):
            let base = config.workingDir ?? "/"
            let path =
                workdir.path.startsWithSlash ? workdir.path : (base.endsWithSlash ? base : base + "/") + workdir.path
            config.workingDir = RootedPath.clean(path)
            return [workdir.path]
        default:
            return nil
        }
    }

    /// Applies docker `--change` lines (`CMD ["sh"]`, `ENV A=b`, …) to `config`, each parsed as
    /// a Dockerfile instruction and expanded against the config's environment.
    public static func apply(changes: [String], to config: inout ContainerConfig) throws {
        var cmdSet = config.cmd != nil
        for change in changes {
            let dockerfile: Dockerfile
            do {
                dockerfile = try Dockerfile.parse("FROM scratch\n" + change, fileName: "--change")
            } catch {
                throw BuildError("invalid --change '\(change)': \(error)")
            }
            guard dockerfile.stages.count == 1 else {
                throw BuildError("invalid --change '\(change)': FROM is not supported")
            }
            for command in dockerfile.stages.flatMap(\.commands) {
                let keyword = command.info.keyword.uppercased()
                guard changeKeywords.contains(keyword) else {
                    throw BuildError(
                        "invalid --change '\(change)': \(keyword) is not supported (use one of \(changeKeywords.sorted().joined(separator: ", ")))"
                    )
                }
                let expanded = try command.expanded(escapeToken: "\\") { config.environmentValue($0) }
                _ = try apply(expanded, to: &config, cmdSet: &cmdSet)
            }
        }
    }

    /// Exec form as is; shell form wrapped in the SHELL (default `/bin/sh -c`).
    static func commandArray(_ line: DockerfileSyntax.CommandLine, shell: [String]?) -> [String] {
        switch line {
        case .exec(let args): args
        case .shell(let text): (shell ?? ["/bin/sh", "-c"]) + [text]
        }
    }

    /// `8080` → `8080/tcp`; ranges expand; protocols lower-cased.
    static func exposedPorts(_ spec: String) throws -> [String] {
        let parts = spec.split(separator: "/", maxSplits: 1).map(String.init)
        guard let portPart = parts.first, !portPart.isEmpty else {
            throw BuildError("invalid port '\(spec)' in EXPOSE")
        }
        let proto = parts.count > 1 ? parts[1].lowercased() : "tcp"
        guard ["tcp", "udp", "sctp"].contains(proto) else {
            throw BuildError("invalid protocol '\(proto)' in EXPOSE \(spec)")
        }
        let bounds = portPart.split(separator: "-").map { Int($0) }
        guard let low = bounds.first ?? nil, bounds.allSatisfy({ $0.map { (0...65535).contains($0) } ?? false }),
            bounds.count <= 2
        else {
            throw BuildError("invalid port '\(spec)' in EXPOSE")
        }
        let high = bounds.count == 2 ? (bounds[1] ?? low) : low
        guard low <= high else { throw BuildError("invalid port range '\(spec)' in EXPOSE") }
        return (low...high).map { "\($0)/\(proto)" }
    }
}
