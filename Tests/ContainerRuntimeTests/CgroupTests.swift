import Foundation
import Testing

@testable import ContainerRuntime

@Suite(.serialized) struct CgroupTests {
    @Test func staleCgroupsOfDeadProcessesAreRemovedOthersKept() throws {
        let parent = "/sys/fs/cgroup/pids/berth"
        guard FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/cgroup.procs") else { return }
        try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        // pid 4194305 cannot exist (it is above the kernel's largest pid_max); our own pid does.
        let dead = parent + "/4194305-stale"
        let alive = parent + "/\(getpid())-live-\(UUID().uuidString.prefix(6))"
        #expect(mkdir(dead, 0o755) == 0 || errno == EEXIST)
        #expect(mkdir(alive, 0o755) == 0)
        defer { rmdir(alive) }
        ContainerRuntime.removeStaleCgroups()
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(FileManager.default.fileExists(atPath: alive))
    }

    @Test func layoutDetection() {
        let hybrid = """
            30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw
            31 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
            32 30 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
            """
        #expect(CgroupLayout.detect(mountinfo: hybrid) == .v1(unified: "/sys/fs/cgroup/unified"))
        #expect(
            CgroupLayout.detect(mountinfo: "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw")
                == .v2(root: "/sys/fs/cgroup"))
        #expect(
            CgroupLayout.detect(mountinfo: "31 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory")
                == .v1(unified: nil))
    }

    @Test func memoryLimitIsEnforced() async throws {
        let root = try TestRoot()
        defer { root.cleanup() }
        // 64 MiB into a shell variable, under a 32 MiB limit: the kernel kills it.
        let (status, _) = try await root.run(
            "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived",
            resources: ResourceLimits(memoryBytes: 32 << 20))
        #expect(status.code == 137)
        let (small, output) = try await root.run(
            "x=$(head -c 1048576 /dev/zero | tr '\\0' a); echo survived",
            resources: ResourceLimits(memoryBytes: 32 << 20))
        #expect(small == .exited(0) && output == "survived\n")
    }

    @Test func pidsLimitAndCleanup() async throws {
        let root = try TestRoot()
        defer { root.cleanup() }
        let id = "cgroup-test-\(UUID().uuidString.prefix(8).lowercased())"
        let (_, output) = try await root.run(
            "sleep 5 & sleep 5 & sleep 5 & sleep 5 & sleep 5 & echo forked", resources: ResourceLimits(pidsLimit: 3),
            id: id)
        #expect(!output.contains("forked"), "pids.max did not stop the fifth process: \(output)")
        // The container's cgroups are gone once it exits, in every hierarchy.
        for hierarchy in ["memory", "pids", "cpu", "devices", "freezer", "unified", ""] {
            let dir = "/sys/fs/cgroup/\(hierarchy.isEmpty ? "" : hierarchy + "/")berth/\(getpid())-\(id)"
            #expect(!FileManager.default.fileExists(atPath: dir), "\(dir) left behind")
        }
    }
}
