/// A typed Dockerfile instruction inside a stage.
///
/// Every case carries the instruction's original text and its location. Fields that BuildKit expands
/// (ADD, COPY, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG defaults, flag values) are
/// kept raw here and expanded by ``Command/expanded(with:)``; shell-form RUN, CMD and ENTRYPOINT are
/// left to the shell.
public enum Command: Sendable, Equatable {
    case run(RunCommand)
    case copy(CopyCommand)  // COPY and ADD (see `CopyCommand.isAdd`)
    case env(EnvCommand)
    case arg(ArgCommand)
    case workdir(WorkdirCommand)
    case cmd(CmdCommand)
    case entrypoint(EntrypointCommand)
    case label(LabelCommand)
    case user(UserCommand)
    case expose(ExposeCommand)
    case volume(VolumeCommand)
    case stopSignal(StopSignalCommand)
    case healthcheck(HealthcheckCommand)
    case shell(ShellCommand)
    case onbuild(OnbuildCommand)
    case maintainer(MaintainerCommand)
}

/// The common header every instruction carries.
public struct CommandInfo: Sendable, Equatable {
    /// Upper-case instruction keyword, e.g. `RUN`.
    public var keyword: String
    /// The instruction as written (continuations joined), used for history and progress.
    public var original: String
    public var location: SourceRange
    public init(keyword: String, original: String, location: SourceRange) {
        self.keyword = keyword
        self.original = original
        self.location = location
    }
}

/// Shell form (`RUN echo hi`) or exec form (`RUN ["echo","hi"]`).
public enum CommandLine: Sendable, Equatable {
    case shell(String)
    case exec([String])
}

/// A heredoc body attached to RUN, COPY or ADD.
public struct Heredoc: Sendable, Equatable {
    /// The delimiter word, e.g. `EOF`.
    public var name: String
    /// The body, with `<<-` tab-stripping already applied.
    public var content: String
    /// False when the delimiter was quoted (no expansion of the body).
    public var expand: Bool
    /// The file descriptor it is attached to (0 unless written `3<<EOF`).
    public var fileDescriptor: Int
    public init(name: String, content: String, expand: Bool, fileDescriptor: Int = 0) {
        self.name = name
        self.content = content
        self.expand = expand
        self.fileDescriptor = fileDescriptor
    }
}

/// `RUN [--mount=...] [--network=...] [--security=...] [--device=...] command`.
public struct RunCommand: Sendable, Equatable {
    public var info: CommandInfo
    public var command: CommandLine
    /// Heredocs that make up the command (`RUN <<EOF`); when non-empty the first heredoc is the script.
    public var heredocs: [Heredoc]
    /// Raw `--mount` values, parsed by the engine with ``MountSpec/parse(_:)``.
    public var mounts: [String]
    public var network: String?
    public var security: String?
    public var devices: [String]
    public init(
        info: CommandInfo, command: CommandLine, heredocs: [Heredoc] = [], mounts: [String] = [],
        network: String? = nil, security: String? = nil, devices: [String] = []
    ) {
        self.info = info
        self.command = command
        self.heredocs = heredocs
        self.mounts = mounts
        self.network = network
        self.security = security
        self.devices = devices
    }
}

/// A source of COPY/ADD: a path (or URL for ADD), or an inline heredoc file.
public enum CopySource: Sendable, Equatable {
    case path(String)
    case heredoc(Heredoc)
}

/// `COPY`/`ADD` with all of BuildKit's flags.
public struct CopyCommand: Sendable, Equatable {
    public var info: CommandInfo
    public var isAdd: Bool
    public var sources: [CopySource]
    public var destination: String
    public var from: String?
    public var chown: String?
    public var chmod: String?
    public var link: Bool
    public var parents: Bool
    public var excludes: [String]
    public var checksum: String?
    public var keepGitDir: Bool?
    public var unpack: Bool?
    public init(
        info: CommandInfo, isAdd: Bool, sources: [CopySource], destination: String, from: String? = nil,
        chown: String? = nil, chmod: String? = nil, link: Bool = false, parents: Bool = false,
        excludes: [String] = [], checksum: String? = nil, keepGitDir: Bool? = nil, unpack: Bool? = nil
    ) {
        self.info = info
        self.isAdd = isAdd
        self.sources = sources
        self.destination = destination
        self.from = from
        self.chown = chown
        self.chmod = chmod
        self.link = link
        self.parents = parents
        self.excludes = excludes
        self.checksum = checksum
        self.keepGitDir = keepGitDir
        self.unpack = unpack
    }
}

/// A `key=value` pair of ENV or LABEL.
public struct KeyValuePair: Sendable, Equatable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

public struct EnvCommand: Sendable, Equatable {
    public var info: CommandInfo
    public var pairs: [KeyValuePair]
    public init(info: CommandInfo, pairs: [KeyValuePair]) {
        self.info = info
        self.pairs = pairs
    }
}

/// One `ARG name[=default]` declaration.
public struct ArgDeclaration: Sendable, Equatable {
    public var name: String
    public var defaultValue: String?
    public init(name: String, defaultValue: String?) {
        self.name = name
        self.defaultValue = defaultValue
    }
}

public struct ArgCommand: Sendable, Equatable {
    public var info: CommandInfo
    public var args: [ArgDeclaration]
    public init(info: CommandInfo, args: [ArgDeclaration]) {
        self.info = info
        self.args = args
    }
}

public struct WorkdirCommand: Sendable, Equatable {
    public var info: CommandInfo
    public var path: String
    public init(info: CommandInfo, path: String) {
        self.info = info
        self.path = path
    }
}

public struct CmdCommand: Sendable, Equatable {
    public var info: CommandInfo
    public var command: CommandLine
    public init(info: CommandInfo, command: CommandLine) {
        self.info = info
        self.command = command
    }
}

public struct EntrypointCommand: Sendable, Equatable {
    public var info: CommandInfo
    public var command: CommandLine
    public init(info: CommandInfo, command: CommandLine) {
        self.info = info
        self.command = command
    }
}

public struct LabelCommand: Sendable, Equatable {
    public var info: CommandInfo
    public var pairs: [KeyValuePair]
    public init(info: CommandInfo, pairs: [KeyValuePair]) {
        self.info = info
        self.pairs = pairs
    }
}

public struct UserCommand: Sendable, Equatable {
    public var info: CommandInfo
    public var user: String
    public init(info: CommandInfo, user: String) {
        self.info = info
        self.user = user
    }
}

public struct ExposeCommand: Sendable, Equatable {
    public var info: CommandInfo
    /// Port specs as written, e.g. `8080`, `53/udp`, `8000-8010/tcp`.
    public var ports: [String]
    public init(info: CommandInfo, ports: [String]) {
        self.info = info
        self.ports = ports
    }
}

public struct VolumeCommand: Sendable, Equatable {
    public var info: CommandInfo
    public var paths: [String]
    public init(info: CommandInfo, paths: [String]) {
        self.info = info
        self.paths = paths
    }
}

public struct StopSignalCommand: Sendable, Equatable {
    public var info: CommandInfo
    public var signal: String
    public init(info: CommandInfo, signal: String) {
        self.info = info
        self.signal = signal
    }
}

/// HEALTHCHECK: `NONE`, or `CMD` with options. Durations are in nanoseconds, as in the image config.
public struct HealthcheckCommand: Sendable, Equatable {
    public var info: CommandInfo
    /// `["NONE"]`, `["CMD", args...]` (exec form) or `["CMD-SHELL", script]` (shell form), like the image config's `Test`.
    public var test: [String]
    public var interval: Int64?
    public var timeout: Int64?
    public var startPeriod: Int64?
    public var startInterval: Int64?
    public var retries: Int?
    public init(
        info: CommandInfo, test: [String], interval: Int64? = nil, timeout: Int64? = nil,
        startPeriod: Int64? = nil, startInterval: Int64? = nil, retries: Int? = nil
    ) {
        self.info = info
        self.test = test
        self.interval = interval
        self.timeout = timeout
        self.startPeriod = startPeriod
        self.startInterval = startInterval
        self.retries = retries
    }
}

public struct ShellCommand: Sendable, Equatable {
    public var info: CommandInfo
    public var shell: [String]
    public init(info: CommandInfo, shell: [String]) {
        self.info = info
        self.shell = shell
    }
}

public struct OnbuildCommand: Sendable, Equatable {
    public var info: CommandInfo
    /// The trigger instruction's text, e.g. `RUN echo hi`, stored in the image config's OnBuild.
    public var expression: String
    public init(info: CommandInfo, expression: String) {
        self.info = info
        self.expression = expression
    }
}

public struct MaintainerCommand: Sendable, Equatable {
    public var info: CommandInfo
    public var maintainer: String
    public init(info: CommandInfo, maintainer: String) {
        self.info = info
        self.maintainer = maintainer
    }
}

extension Command {
    /// The header shared by every instruction.
    public var info: CommandInfo {
        switch self {
        case .run(let c): c.info
        case .copy(let c): c.info
        case .env(let c): c.info
        case .arg(let c): c.info
        case .workdir(let c): c.info
        case .cmd(let c): c.info
        case .entrypoint(let c): c.info
        case .label(let c): c.info
        case .user(let c): c.info
        case .expose(let c): c.info
        case .volume(let c): c.info
        case .stopSignal(let c): c.info
        case .healthcheck(let c): c.info
        case .shell(let c): c.info
        case .onbuild(let c): c.info
        case .maintainer(let c): c.info
        }
    }
}
