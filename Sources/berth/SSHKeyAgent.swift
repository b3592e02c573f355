import BuildEngine
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An ssh-agent of berth's own for `--ssh ID=KEYFILE`: started for the build with the keys
/// loaded (`ssh-add`), stopped and its directory removed when the build ends.
///
/// It must not outlive berth, even a SIGKILLed berth, since it holds the private keys. So the
/// agent runs a command (ssh-agent's own mode for that: it exits, removing its socket and
/// directory, once the command has ended) that reads a pipe only berth writes to: when berth
/// exits, however it exits, the kernel closes berth's end, the command sees end of file and
/// ends, and the agent follows within its 10-second check.
final class SSHKeyAgent {
    let socket: String
    private let directory: String
    private let command: Process
    private let lifeline: Pipe
    private var agentPID: pid_t = 0

    /// Starts `ssh-agent` with a lifeline command and adds `keys`.
    init(keys: [String], id: String) throws {
        guard let agent = Self.which("ssh-agent"), let add = Self.which("ssh-add") else {
            throw BerthError("--ssh \(id): key files need ssh-agent and ssh-add (apt-get install openssh-client)")
        }
        lifeline = Pipe()
        // Only berth holds the writing end: no other child may inherit it.
        _ = fcntl(lifeline.fileHandleForWriting.fileDescriptor, F_SETFD, FD_CLOEXEC)
        let report = Pipe()
        command = Process()
        command.executableURL = URL(fileURLWithPath: agent)
        command.arguments = [
            "--", "/bin/sh", "-c", "echo \"$SSH_AGENT_PID $SSH_AUTH_SOCK\"; exec cat > /dev/null",
        ]
        command.standardInput = lifeline
        command.standardOutput = report
        command.standardError = FileHandle.nullDevice
        var started: (pid: pid_t, socket: String)?
        do {
            try command.run()
            var line: [UInt8] = []
            while !line.contains(UInt8(ascii: "\n")) {
                let chunk = report.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                line += chunk
            }
            let fields = String(decoding: line, as: UTF8.self).split(separator: " ")
            if fields.count == 2, let pid = pid_t(fields[0]), fields[1].hasPrefix("/") {
                started = (pid, String(fields[1].dropLast(fields[1].hasSuffix("\n") ? 1 : 0)))
            }
        } catch {
            started = nil
        }
        socket = started?.socket ?? ""
        directory = (socket as NSString).deletingLastPathComponent
        guard let started else {
            stop()
            throw BerthError("--ssh \(id): ssh-agent did not start")
        }
        agentPID = started.pid
        do {
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

    /// Stops the agent and its command and removes the socket and its directory.
    func stop() {
        // SIGKILL: both inherit berth's signal mask, in which SIGTERM is blocked.
        if agentPID > 0 { kill(agentPID, SIGKILL) }
        if command.isRunning {
            kill(command.processIdentifier, SIGKILL)
            command.waitUntilExit()
        }
        if !socket.isEmpty {
            unlink(socket)
            rmdir(directory)
        }
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
