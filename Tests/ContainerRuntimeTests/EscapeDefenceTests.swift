import Foundation
import Testing

@testable import ContainerRuntime

/// The runc/crun CVE classes the reference lists, each tried for real.
@Suite(.serialized) struct EscapeDefenceTests {
    /// CVE-2024-21626: no descriptor of berth's leaks into the container.
    @Test func onlyStandardDescriptorsAreOpen() async throws {
        let root = try TestRoot()
        defer { root.cleanup() }
        let (status, output) = try await root.run("ls /proc/self/fd")
        #expect(status == .exited(0))
        // 0-2, plus 3: the directory `ls` itself is reading.
        #expect(output.split(separator: "\n") == ["0", "1", "2", "3"], "\(output)")
    }

    /// CVE-2019-5736: berth's binary is never reachable from inside; every process the
    /// container sees runs a binary of the container.
    @Test func hostBinaryIsNotReachable() async throws {
        let root = try TestRoot()
        defer { root.cleanup() }
        let (_, output) = try await root.run("ls -l /proc/*/exe 2>/dev/null | grep -v busybox; echo end")
        #expect(output == "end\n", "\(output)")
    }

    /// Mount-target symlink races (CVE-2021-30465 class): a symlink planted where a mount goes
    /// is resolved inside the root, never on the host.
    @Test func symlinkedMountTargetsStayInsideTheRoot() async throws {
        let root = try TestRoot()
        defer { root.cleanup() }
        let outside = (root.path as NSString).deletingLastPathComponent + "/outside-target"
        try "host file\n".write(toFile: outside, atomically: false, encoding: .utf8)
        // etc/hosts → an absolute path that, followed on the host, would be `outside`.
        #expect(symlink(outside, root.path + "/etc/hosts") == 0)
        let (status, _) = try await root.run("cat /etc/hosts")
        #expect(status == .exited(0))
        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "host file\n")
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        #expect(!mounts.contains(outside))
    }

    /// A working directory that resolves outside the root is refused, not entered.
    @Test func workingDirectoryStaysInside() async throws {
        let root = try TestRoot()
        defer { root.cleanup() }
        #expect(symlink("/../../..", root.path + "/up") == 0)
        let runtime = ContainerRuntime(stateDirectory: root.state)
        let spec = ContainerSpec(
            rootPath: root.path, process: ProcessSpec(args: ["/bin/sh", "-c", "pwd; ls /"], env: [], cwd: "/up"),
            hostname: "h")
        let output = OutputBox()
        let status = try await runtime.run(id: "cwd", spec: spec, io: .capture { _, bytes in output.append(bytes) })
        #expect(status == .exited(0))
        #expect(output.text.hasPrefix("/\n"), "\(output.text)")  // /up resolves to the container's /
    }
}

final class OutputBox: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    func append(_ more: [UInt8]) { lock.withLock { bytes += more } }
    var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
}
