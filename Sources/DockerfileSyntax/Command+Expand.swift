extension Command {
    /// This command with every field BuildKit expands expanded: ADD/COPY sources, destination
    /// and `--chown`/`--chmod`/`--from` (and heredoc bodies whose delimiter was not quoted), ENV
    /// and LABEL keys and values, EXPOSE, STOPSIGNAL, USER, VOLUME, WORKDIR and ARG defaults.
    /// Shell-form RUN, CMD and ENTRYPOINT are left to the shell.
    public func expanded(escapeToken: Character, lookup: (String) -> String?) throws(ExpansionError) -> Command {
        let shell = ShellExpander(escapeToken: escapeToken)
        func word(_ text: String) throws(ExpansionError) -> String { try shell.expand(text, lookup: lookup) }
        func optional(_ text: String?) throws(ExpansionError) -> String? {
            guard let text else { return nil }
            return try word(text)
        }
        func pairs(_ list: [KeyValuePair]) throws(ExpansionError) -> [KeyValuePair] {
            var result: [KeyValuePair] = []
            for pair in list { result.append(KeyValuePair(key: try word(pair.key), value: try word(pair.value))) }
            return result
        }
        switch self {
        case .copy(var copy):
            var sources: [CopySource] = []
            for source in copy.sources {
                switch source {
                case .path(let path): sources.append(.path(try word(path)))
                case .heredoc(var heredoc):
                    if heredoc.expand { heredoc.content = try word(heredoc.content) }
                    sources.append(.heredoc(heredoc))
                }
            }
            copy.sources = sources
            copy.destination = try word(copy.destination)
            copy.chown = try optional(copy.chown)
            copy.chmod = try optional(copy.chmod)
            copy.from = try optional(copy.from)
            copy.checksum = try optional(copy.checksum)
            var excludes: [String] = []
            for pattern in copy.excludes { excludes.append(try word(pattern)) }
            copy.excludes = excludes
            return .copy(copy)
        case .env(var env):
            env.pairs = try pairs(env.pairs)
            return .env(env)
        case .label(var label):
            label.pairs = try pairs(label.pairs)
            return .label(label)
        case .arg(var arg):
            var declarations: [ArgDeclaration] = []
            for declaration in arg.args {
                declarations.append(
                    ArgDeclaration(name: declaration.name, defaultValue: try optional(declaration.defaultValue)))
            }
            arg.args = declarations
            return .arg(arg)
        case .workdir(var workdir):
            workdir.path = try word(workdir.path)
            return .workdir(workdir)
        case .user(var user):
            user.user = try word(user.user)
            return .user(user)
        case .stopSignal(var signal):
            signal.signal = try word(signal.signal)
            return .stopSignal(signal)
        case .expose(var expose):
            var ports: [String] = []
            for port in expose.ports { ports += try shell.expandWords(port, lookup: lookup) }
            expose.ports = ports
            return .expose(expose)
        case .volume(var volume):
            var paths: [String] = []
            for path in volume.paths {
                let value = try word(path)
                guard !value.isEmpty else {
                    throw ExpansionError("VOLUME specified can not be an empty string", word: path)
                }
                paths.append(value)
            }
            volume.paths = paths
            return .volume(volume)
        case .run, .cmd, .entrypoint, .shell, .healthcheck, .onbuild, .maintainer:
            return self
        }
    }
}
