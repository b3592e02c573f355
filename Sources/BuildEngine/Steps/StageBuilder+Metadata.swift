import DockerfileSyntax
import Foundation
import OCIImage

extension StageBuilder {
    /// Instructions that only change the image config: no snapshot, but they feed later keys.
    func applyMetadata(_ command: Command, state: inout State) throws {
        var config = state.containerConfig
        var keyParts: [String] = []
        switch command {
        case .env(let env):
            for pair in env.pairs {
                config.setEnvironment(pair.key, pair.value)
                keyParts.append("\(pair.key)=\(pair.value)")
            }
        case .arg(let arg):
            for declaration in arg.args {
                let value: String?
                if let given = session.options.buildArgs[declaration.name] {
                    value = given
                } else if let defaultValue = declaration.defaultValue {
                    value = defaultValue
                } else {
                    value = globalArgs[declaration.name]
                }
                state.args.append((declaration.name, value))
                keyParts.append("\(declaration.name)=\(value ?? "<unset>")")
            }
        case .label(let label):
            var labels = config.labels ?? [:]
            for pair in label.pairs {
                labels[pair.key] = pair.value
                keyParts.append("\(pair.key)=\(pair.value)")
            }
            config.labels = labels
        case .cmd(let cmd):
            config.cmd = commandArray(cmd.command, shell: config.shell)
            state.cmdSet = true
            keyParts = config.cmd ?? []
        case .entrypoint(let entrypoint):
            config.entrypoint = commandArray(entrypoint.command, shell: config.shell)
            if !state.cmdSet { config.cmd = nil }
            keyParts = config.entrypoint ?? []
        case .user(let user):
            config.user = user.user
            keyParts = [user.user]
        case .expose(let expose):
            var ports = config.exposedPorts ?? [:]
            for spec in expose.ports {
                for port in try Self.exposedPorts(spec) { ports[port] = EmptyObject() }
            }
            config.exposedPorts = ports
            keyParts = expose.ports
        case .volume(let volume):
            var volumes = config.volumes ?? [:]
            for path in volume.paths where !path.isEmpty { volumes[path] = EmptyObject() }
            config.volumes = volumes
            keyParts = volume.paths
        case .stopSignal(let signal):
            config.stopSignal = signal.signal
            keyParts = [signal.signal]
        case .shell(let shell):
            config.shell = shell.shell
            keyParts = shell.shell
        case .healthcheck(let check):
            if check.test.first?.uppercased() == "NONE" {
                config.healthcheck = Healthcheck(test: ["NONE"])
            } else {
                config.healthcheck = Healthcheck(
                    test: check.test, interval: check.interval, timeout: check.timeout,
                    startPeriod: check.startPeriod, startInterval: check.startInterval, retries: check.retries)
            }
            keyParts = check.test
        case .onbuild(let onbuild):
            config.onBuild = (config.onBuild ?? []) + [onbuild.expression]
            keyParts = [onbuild.expression]
        case .maintainer(let maintainer):
            state.config.author = maintainer.maintainer
            keyParts = [maintainer.maintainer]
        case .run, .copy, .workdir:
            return
        }
        state.containerConfig = config
        state.key = CacheKey.derive(parent: state.key, kind: command.info.keyword, parts: keyParts)
        addHistory(&state, historyText(command), empty: true)
    }

    /// Exec form as is; shell form wrapped in the SHELL (default `/bin/sh -c`).
    func commandArray(_ line: DockerfileSyntax.CommandLine, shell: [String]?) -> [String] {
        switch line {
        case .exec(let args): args
        case .shell(let text): (shell ?? ["/bin/sh", "-c"]) + [text]
        }
    }

    /// History `created_by` text, as BuildKit writes it.
    func historyText(_ command: Command) -> String {
        switch command {
        case .run(let run):
            let args: [String]
            switch run.command {
            case .exec(let list): args = list
            case .shell(let text): args = ["/bin/sh", "-c", text]
            }
            return "RUN " + args.joined(separator: " ") + " # buildkit"
        case .copy(let copy):
            return copy.info.original + " # buildkit"
        case .env(let env):
            return "ENV " + env.pairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        case .label(let label):
            return "LABEL " + label.pairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        default:
            return command.info.original
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
        guard let low = bounds.first ?? nil, bounds.allSatisfy({ $0 != nil && (0...65535).contains($0!) }),
            bounds.count <= 2
        else {
            throw BuildError("invalid port '\(spec)' in EXPOSE")
        }
        let high = bounds.count == 2 ? (bounds[1] ?? low) : low
        guard low <= high else { throw BuildError("invalid port range '\(spec)' in EXPOSE") }
        return (low...high).map { "\($0)/\(proto)" }
    }
}
