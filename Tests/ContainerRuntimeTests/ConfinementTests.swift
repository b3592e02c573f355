import ContainerRuntime
import Foundation
import Testing

/// Inside-the-container facts that must equal `docker run`'s defaults.
@Suite(.serialized) struct ConfinementTests {
    @Test func capabilitiesAndProcessFacts() async throws {
        let root = try TestRoot()
        defer { root.cleanup() }
        let (status, output) = try await root.run(
            "grep -E '^(CapEff|CapBnd|CapPrm|CapInh|CapAmb|NoNewPrivs)' /proc/self/status; echo pid=$$; hostname")
        #expect(status == .exited(0))
        #expect(output.contains("CapEff:\t00000000a80425fb"))
        #expect(output.contains("CapBnd:\t00000000a80425fb"))
        #expect(output.contains("CapPrm:\t00000000a80425fb"))
        #expect(output.contains("CapInh:\t0000000000000000"))
        #expect(output.contains("CapAmb:\t0000000000000000"))
        #expect(output.contains("NoNewPrivs:\t0"))
        #expect(output.contains("pid=1"))
        #expect(output.contains("testhost"))
    }

    @Test func nonRootUserHasNoEffectiveCapabilities() async throws {
        let root = try TestRoot()
        defer { root.cleanup() }
        let (status, output) = try await root.run(
            "id; grep -E '^(CapEff|CapBnd)' /proc/self/status; echo HOME=$HOME", user: "app")
        #expect(status == .exited(0))
        #expect(
            output.contains("uid=1000(app) gid=1000(app) groups=50(staff)") || output.contains("uid=1000 gid=1000"),
            "\(output)")
        #expect(output.contains("CapEff:\t0000000000000000"))
        #expect(output.contains("CapBnd:\t00000000a80425fb"))
        #expect(output.contains("HOME=/home/app"))
    }

    @Test func defaultMountsAndDenials() async throws {
        let root = try TestRoot()
        defer { root.cleanup() }
        let (_, mounts) = try await root.run("cat /proc/mounts")
        for target in [
            " /proc proc ", " /dev tmpfs ", " /dev/pts devpts ", " /sys sysfs ro,", " /dev/mqueue mqueue ",
            " /dev/shm tmpfs ", " /proc/sys proc ro,",
        ] {
            #expect(mounts.contains(target), "missing \(target) in\n\(mounts)")
        }
        let (mountStatus, _) = try await root.run("mount -t tmpfs none /tmp")
        #expect(mountStatus != .exited(0))
        let (unshareStatus, _) = try await root.run("unshare -m true")
        #expect(unshareStatus != .exited(0))
        let (hostnameStatus, _) = try await root.run("hostname changed")
        #expect(hostnameStatus != .exited(0))
        let (_, firmware) = try await root.run("ls /sys/firmware | head -1; echo end")
        #expect(firmware == "end\n")
        let (sysStatus, _) = try await root.run("echo 1 > /proc/sys/kernel/domainname")
        #expect(sysStatus != .exited(0))
    }

    @Test func exitStatusesAndErrors() async throws {
        let root = try TestRoot()
        defer { root.cleanup() }
        #expect(try await root.run("exit 7").status == .exited(7))
        #expect(try await root.run("sh -c 'kill -9 $$'; exit $?").status.code == 137)
        let runtime = ContainerRuntime(stateDirectory: root.state)
        await #expect(throws: RuntimeError.self) {
            try await runtime.run(
                id: "x",
                spec: ContainerSpec(
                    rootPath: root.path, process: ProcessSpec(args: ["no-such-command"], env: []), hostname: "h"),
                io: .capture { _, _ in })
        }
    }

    @Test func sigkillFromOutsideGives137AndCancellationCleansUp() async throws {
        let root = try TestRoot()
        defer { root.cleanup() }
        let marker = String(Int.random(in: 100_000...999_999))
        async let result = root.run("exec sleep \(marker)")
        // Find the container's pid 1 from the host and SIGKILL it.
        var killed = false
        for _ in 0..<100 where !killed {
            try await Task.sleep(for: .milliseconds(20))
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let pid = Int32(entry),
                    let cmdline = try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8),
                    cmdline.hasPrefix("sleep\u{0}\(marker)")
                else { continue }
                kill(pid, SIGKILL)
                killed = true
            }
        }
        #expect(killed)
        #expect(try await result.status.code == 137)
    }

    @Test func mountPointStubsAreRemovedForBuildSteps() async throws {
        let root = try TestRoot()
        defer { root.cleanup() }
        try FileManager.default.removeItem(atPath: root.path + "/sys")
        let (status, _) = try await root.run("touch /made", removeStubs: true)
        #expect(status == .exited(0))
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: root.path + "/made"))
        #expect(!fm.fileExists(atPath: root.path + "/sys"))
        #expect(!fm.fileExists(atPath: root.path + "/etc/hosts"))
        #expect(!fm.fileExists(atPath: root.path + "/etc/resolv.conf"))
        #expect(!fm.fileExists(atPath: root.path + "/etc/hostname"))
    }

    @Test func privateNetworkHasOnlyLoopback() async throws {
        let root = try TestRoot()
        defer { root.cleanup() }
        let (status, output) = try await root.run("cat /proc/net/dev", network: .none)
        #expect(status == .exited(0))
        #expect(output.contains("lo:"))
        #expect(output.split(separator: "\n").count == 3, "\(output)")
    }
}
