import Crypto
import Foundation
import Testing

@testable import ContainerRuntime

@Suite struct SeccompTests {
    static let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
            "shared/conformance/moby-seccomp/default.json"
        ).path

    @Test func embeddedProfileIsDockersByteForByte() throws {
        guard let reference = FileManager.default.contents(atPath: Self.shared) else {
            print("SeccompTests: skipped the byte comparison (../shared/conformance/moby-seccomp not found)")
            return
        }
        let embedded = Data(SeccompProfile.dockerDefaultJSON.utf8)
        #expect(SHA256.hash(data: embedded) == SHA256.hash(data: reference))
        #expect(SeccompProfile.docker.syscalls.count == 33)
    }

    @Test func resolutionFollowsArchCapabilitiesAndKernel() {
        let profile = SeccompProfile.docker
        let docker = Set(["CAP_CHOWN", "CAP_SETUID"])
        let rules = profile.resolved(arch: "amd64", capabilities: docker, kernel: (6, 1))
        let names = Set(rules.flatMap { $0.names ?? [] })
        #expect(names.contains("arch_prctl"))  // amd64 only
        #expect(!names.contains("riscv_flush_icache"))
        #expect(!names.contains("bpf"))  // needs CAP_SYS_ADMIN or CAP_BPF
        #expect(names.contains("ptrace"))  // minKernel 4.8
        #expect(
            !profile.resolved(arch: "amd64", capabilities: docker, kernel: (4, 4)).flatMap { $0.names ?? [] }.contains(
                "ptrace"))
        // clone3 gets ENOSYS without CAP_SYS_ADMIN, and is simply allowed with it.
        #expect(rules.contains { $0.names == ["clone3"] && $0.errnoRet == 38 })
        let admin = profile.resolved(arch: "amd64", capabilities: docker.union(["CAP_SYS_ADMIN"]), kernel: (6, 1))
        #expect(!admin.contains { $0.names == ["clone3"] && $0.errnoRet == 38 })
    }

    @Test func compiledFilterIsCachedAndDeniesWhatDockerDenies() async throws {
        let root = try TestRoot()
        defer { root.cleanup() }
        let (status, output) = try await root.run(
            "grep Seccomp: /proc/self/status; unshare -m true 2>&1; echo unshare=$?")
        #expect(status == .exited(0))
        #expect(output.contains("Seccomp:\t2"))
        #expect(output.contains("unshare=1"))
        let cache = try FileManager.default.contentsOfDirectory(atPath: root.state + "/seccomp")
        #expect(cache.count == 1 && cache[0].hasSuffix(".bpf"))
    }
}
