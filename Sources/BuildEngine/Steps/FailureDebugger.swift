import ContainerRuntime

/// A RUN step that failed, with its file system still mounted: what `--debug-on-failure` needs
/// to open a shell where the command ran.
public struct FailedStep: Sendable {
    /// `[2/4] RUN make` (the progress name of the step).
    public var name: String
    /// The step's container spec: its root (the merged overlay, with the failed command's
    /// changes), environment, user, working directory and mounts.
    public var spec: ContainerSpec
    /// The failed command's exit status.
    public var exitCode: Int32
    /// A unique id for the shell's container state (runtime files, cgroup).
    public var containerID: String

    public init(name: String, spec: ContainerSpec, exitCode: Int32, containerID: String) {
        self.name = name
        self.spec = spec
        self.exitCode = exitCode
        self.containerID = containerID
    }
}

/// Opens an interactive shell on a failed step (`--debug-on-failure`). The builder waits for
/// `debug` to return, then unmounts and removes the step's snapshot as for any failure.
public protocol FailureDebugger: Sendable {
    func debug(_ step: FailedStep, runtime: ContainerRuntime) async
}
