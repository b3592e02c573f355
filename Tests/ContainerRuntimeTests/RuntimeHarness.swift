import ContainerRuntime
import Foundation
import Synchronization

/// A tiny busybox root file system in a temporary directory, for running real containers.
struct TestRoot {
    let path: String
    let state: String

    init() throws {
        let base = NSTemporaryDirectory() + "berth-rt-" + UUID().uuidString.prefix(8).lowercased()
        path = base + "/root"
        state = base + "/state"
        let fm = FileManager.default
        for dir in ["bin", "etc", "tmp", "proc", "dev", "sys", "home/app"] {
            try fm.createDirectory(atPath: path + "/" + dir, withIntermediateDirectories: true)
        }
        try fm.createDirectory(atPath: state, withIntermediateDirectories: true)
        try fm.copyItem(atPath: "/bin/busybox", toPath: path + "/bin/busybox")
        for applet in [
            "sh", "cat", "echo", "id", "ls", "true", "false", "sleep", "mount", "umount", "unshare", "hostname", "grep",
            "head", "touch", "mkdir", "kill", "tr",
        ] {
            try fm.createSymbolicLink(atPath: path + "/bin/" + applet, withDestinationPath: "busybox")
        }
        try "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n".write(
            toFile: path + "/etc/passwd", atomically: false, encoding: .utf8)
        try "root:x:0:\napp:x:1000:\nstaff:x:50:app\n".write(
            toFile: path + "/etc/group", atomically: false, encoding: .utf8)
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
    }

    /// Runs `script` with `sh -c` and returns its status and output.
    func run(
        _ script: String, user: String = "", network: NetworkMode = .host, removeStubs: Bool = false,
        capabilities: CapabilitySpec = .docker, resources: ResourceLimits = .init(),
        id: String = UUID().uuidString.lowercased()
    ) async throws -> (status: ExitStatus, output: String) {
        let collected = Mutex([UInt8]())
        let runtime = ContainerRuntime(stateDirectory: state)
        let spec = ContainerSpec(
            rootPath: path, process: ProcessSpec(args: ["/bin/sh", "-c", script], env: [], cwd: "/", user: user),
            hostname: "testhost", network: network, capabilities: capabilities, resources: resources,
            removeMountPointStubs: removeStubs)
        let status = try await runtime.run(
            id: id, spec: spec, io: .capture { _, bytes in collected.withLock { $0 += bytes } })
        return (status, String(decoding: collected.withLock { $0 }, as: UTF8.self))
    }
}
