import BuildEngine
import ContainerRuntime
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `build --debug-on-failure`: an interactive /bin/sh on a failed RUN step's file system, with
/// the step's environment, user, working directory and mounts, on berth's terminal. The builder
/// removes the step's mounts and snapshot once the shell has exited; the runtime removes the
/// shell's cgroup and state files.
struct DebugShell: FailureDebugger {
    /// The build's progress: a terminal renderer is paused while the shell has the terminal.
    var progress: any ProgressSink

    func debug(_ step: FailedStep, runtime: ContainerRuntime) async {
        guard isatty(0) != 0, isatty(2) != 0 else {
            Self.say(
                "--debug-on-failure: \(step.name) failed (exit code \(step.exitCode)); standard input and error are not a terminal, so no shell is opened"
            )
            return
        }
        let terminalProgress = progress as? TTYProgress
        terminalProgress?.pause()
        defer { terminalProgress?.resume() }
        Self.say(
            "--debug-on-failure: \(step.name) failed (exit code \(step.exitCode)). Opening /bin/sh on its file system "
                + "(its environment, user, working directory and mounts); exit the shell to end the build.")
        var spec = step.spec
        spec.process.args = ["/bin/sh"]
        spec.process.terminal = true
        let streams: ContainerStreams
        do {
            streams = try ContainerStreams(
                terminal: true, interactive: true, attached: true, log: nil, terminalOutput: 2)
        } catch {
            Self.say("--debug-on-failure: \(error)")
            return
        }
        defer { streams.finish() }
        do {
            let status = try await runtime.run(id: step.containerID, spec: spec, io: streams.io) { _ in
                streams.started()
            }
            streams.finish()
            Self.say("--debug-on-failure: the shell exited (status \(status.code)); cleaning up")
        } catch {
            streams.restoreTerminal()
            Self.say("--debug-on-failure: cannot start /bin/sh: \(error)")
        }
    }

    private static func say(_ text: String) {
        FileHandle.standardError.write(Data(("\n" + text + "\n").utf8))
    }
}
