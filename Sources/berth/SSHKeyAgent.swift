import BuildEngine
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An ssh-agent of berth's own for `--ssh ID=KEYFILE`: started for the build with the keys
/// loaded (`ssh-add`), stopped and its directory removed when the build ends.
final class SSHKeyAgent {
    let socket: String
    private let directory: String
    private let process: Process

    /// Starts `ssh-agent -D` on a socket in a private directory and adds `keys`.
    init(keys: [String], id: String) throws {
        guard let agent = Self.which("ssh-agent"), let add = Self.which("ssh-add") else {
            throw BerthError("--ssh \(id): key files need ssh-agent and ssh-add (apt-get install openssh-client)")
        }
        var template = Array("/tmp/berth-ssh-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else {
            throw BerthError("--ssh \(id): cannot create a directory: \(String(cString: strerror(errno)))")
        }
        directory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        socket = directory + "/agent.sock"
        process = Process()
        process.executableURL = URL(fileURLWithPath: agent)
        process.arguments = ["-D", "-a", socket]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            var waited = 0
            while !FileManager.default.fileExists(atPath: socket) {
                guard process.isRunning, waited < 200 else {
                    throw BerthError("--ssh \(id): ssh-agent did not start")
                }
                usleep(25_000)
                waited += 1
            }
            let loader = Process()
            loader.executableURL = URL(fileURLWithPath: add)
            loader.arguments = ["-q"] + keys
            var environment = ProcessInfo.processInfo.environment
            environment["SSH_AUTH_SOCK"] = socket
            loader.environment = environment
            let errors = Pipe()
            loader.standardError = errors
            loader.standardOutput = FileHandle.nullDevice
            try loader.run()
            let message = errors.fileHandleForReading.readDataToEndOfFile()
            loader.waitUntilExit()
            guard loader.terminationStatus == 0 else {
                throw BerthError(
                    "--ssh \(id): ssh-add \(keys.joined(separator: " ")) failed: "
                        + String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            }
        } catch {
            stop()
            throw error
        }
    }

    /// Stops the agent and removes its socket directory.
    func stop() {
        if process.isRunning {
            // SIGKILL: the agent inherits berth's signal mask, in which SIGTERM is blocked.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        unlink(socket)
        rmdir(directory)
    }

    private static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") + ["/usr/bin", "/bin"] {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
