#if canImport(Glibc)
    import Glibc
#endif

/// Why a container could not be started or waited for.
public enum RuntimeError: Error, Sendable, CustomStringConvertible {
    /// The child failed before exec at `step`.
    case setup(step: String, detail: String, errno: Int32)
    /// argv[0] was not found in the container (docker exits 127).
    case commandNotFound(String)
    /// argv[0] exists but cannot be executed (docker exits 126).
    case notExecutable(String)
    case invalidSpec(String)
    case system(operation: String, errno: Int32)
    /// The run was cancelled (berth got SIGINT or SIGTERM); the container was killed.
    case cancelled

    public var description: String {
        switch self {
        case .setup(let step, let detail, let code):
            "container setup failed at \(step)\(detail.isEmpty ? "" : " (\(detail))"): \(String(cString: strerror(code)))"
        case .commandNotFound(let command):
            "exec \(command): no such file or directory in the container"
        case .notExecutable(let command): "exec \(command): permission denied (not executable)"
        case .invalidSpec(let message): "invalid container spec: \(message)"
        case .system(let operation, let code): "\(operation): \(String(cString: strerror(code)))"
        case .cancelled: "cancelled"
        }
    }

    /// The exit code docker uses for this failure.
    public var dockerExitCode: Int32 {
        switch self {
        case .commandNotFound: 127
        case .notExecutable: 126
        default: 125
        }
    }
}
