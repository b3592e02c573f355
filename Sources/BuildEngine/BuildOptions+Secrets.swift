import ContainerRuntime
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where a `--secret` comes from. Its bytes are read only when a RUN mounts it, kept in memory
/// and in a tmpfs private to the build, and never enter a layer, a cache key, the store or the
/// progress output.
public enum SecretSource: Sendable, Equatable {
    case file(String)
    case environment(String)

    /// Parses docker's `--secret` value: `id=ID[,src=FILE|,env=VAR][,type=file|env]`. Without
    /// `src` and `env`, the variable named by the id is used when it is set, else the file
    /// named by the id (as buildx does). `id` defaults to the base name of `src`.
    public static func parse(
        _ text: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(BuildError) -> (id: String, source: SecretSource) {
        var id: String?
        var file: String?
        var variable: String?
        var type: String?
        for field in text.split(separator: ",", omittingEmptySubsequences: true) {
            let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else {
                throw BuildError("invalid --secret '\(text)': '\(field)' must be a key=value pair")
            }
            switch pair[0].lowercased() {
            case "id": id = pair[1]
            case "src", "source": file = pair[1]
            case "env": variable = pair[1]
            case "type":
                guard pair[1] == "file" || pair[1] == "env" else {
                    throw BuildError("invalid --secret '\(text)': type must be file or env")
                }
                type = pair[1]
            default:
                throw BuildError("invalid --secret '\(text)': unexpected key '\(pair[0])' (use id, src, env, type)")
            }
        }
        if file != nil, variable != nil {
            throw BuildError("invalid --secret '\(text)': src and env cannot both be set")
        }
        guard let name = id ?? file.map(\.lastComponent), !name.isEmpty else {
            throw BuildError("invalid --secret '\(text)': id= is required")
        }
        if type == "env" { return (name, .environment(variable ?? file ?? name)) }
        if let variable { return (name, .environment(variable)) }
        if let file { return (name, .file(file)) }
        if type == nil, environment[name] != nil { return (name, .environment(name)) }
        return (name, .file(name))
    }

    /// The secret's bytes, read now.
    func read(id: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(BuildError) -> [UInt8]
    {
        switch self {
        case .file(let path):
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw BuildError("secret \(id): cannot read \(path): \(String(cString: strerror(errno)))")
            }
            defer { close(fd) }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw BuildError("secret \(id): cannot read \(path): \(String(cString: strerror(errno)))")
                }
                if n == 0 { break }
                bytes += buffer[0..<n]
                if bytes.count > 500 * 1024 {
                    throw BuildError("secret \(id): \(path) is larger than 500 KiB (BuildKit's limit)")
                }
            }
            return bytes
        case .environment(let name):
            guard let value = environment[name] else {
                throw BuildError("secret \(id): environment variable \(name) is not set")
            }
            return Array(value.utf8)
        }
    }
}

/// `--ssh ID[=SOCKET|KEY[,KEY…]]`: what `RUN --mount=type=ssh` mounts of that id reach.
public enum SSHForward: Sendable, Equatable {
    /// An ssh-agent socket, forwarded as is.
    case socket(String)
    /// Private key files: `berth build` loads them into an agent of its own for the build.
    case keys([String])

    /// Parses `default`, `default=/path/to/agent.sock`, `ID=SOCKET` or `ID=KEY[,KEY]`;
    /// `default` alone is `$SSH_AUTH_SOCK`.
    public static func parse(
        _ text: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(BuildError) -> (id: String, forward: SSHForward) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard let id = parts.first, !id.isEmpty else { throw BuildError("invalid --ssh '\(text)': an id is required") }
        var paths = parts.count == 2 ? parts[1].split(separator: ",").map(String.init) : []
        if paths.isEmpty {
            guard let socket = environment["SSH_AUTH_SOCK"], !socket.isEmpty else {
                throw BuildError("invalid --ssh '\(text)': no path given and SSH_AUTH_SOCK is not set")
            }
            paths = [socket]
        }
        var sockets: [String] = []
        var keys: [String] = []
        for path in paths {
            var st = stat()
            guard stat(path, &st) == 0 else {
                throw BuildError("invalid --ssh '\(text)': \(path): \(String(cString: strerror(errno)))")
            }
            switch st.st_mode & S_IFMT {
            case S_IFSOCK: sockets.append(path)
            case S_IFREG: keys.append(path)
            default: throw BuildError("invalid --ssh '\(text)': \(path) is neither an agent socket nor a key file")
            }
        }
        if let socket = sockets.first {
            guard paths.count == 1 else {
                throw BuildError("invalid --ssh '\(text)': give one agent socket, or key files, per id")
            }
            return (id, .socket(socket))
        }
        return (id, .keys(keys))
    }
}
