import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The runtime's optional paths, through the real binary: a user namespace (`--uidmap`), and the
/// pure cgroup v2 path (device allow-list as BPF, clone straight into the cgroup) run on this
/// host's unified hierarchy.
@Suite(.serialized) struct RuntimeOptionsTests {
    @Test func userNamespaceMakesContainerRootAnUnprivilegedHostUser() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase("img")
        // A file only host root may read, bound into the container.
        let secret = h.work + "/root-only"
        try "top secret\n".write(toFile: secret, atomically: false, encoding: .utf8)
        chmod(secret, 0o600)

        let plain = try h.berth(["run", "--rm", "-v", secret + ":/secret:ro", "img", "cat", "/secret"])
        #expect(plain.status == 0 && plain.stdout == "top secret\n", "without a user namespace root reads it")

        let mapped = try h.berth([
            "run", "--name", "u", "--uidmap", "0:100000:65536", "-v", secret + ":/secret:ro", "img", "sh", "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u; grep -E '^(CapEff|Seccomp):' /proc/self/status;"
                + " touch /tmp/made; cat /secret || echo denied",
        ])
        #expect(mapped.status == 0, "\(mapped.stderr)")
        let lines = mapped.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.prefix(3) == ["0 100000 65536", "0 100000 65536", "0"], "\(mapped.stdout)")
        #expect(mapped.stdout.contains("CapEff:\t00000000a80425fb"), "\(mapped.stdout)")
        #expect(mapped.stdout.contains("Seccomp:\t2"), "\(mapped.stdout)")
        #expect(lines.last == "denied", "root in the namespace is uid 100000 outside: \(mapped.stdout)")
        // What the container wrote belongs to the mapped user on the host.
        let export = try h.berth(["export", "-o", h.work + "/u.tar", "u"])
        #expect(export.status == 0, "\(export.stderr)")
        let listing = try BerthHarness.run("/bin/tar", ["-tvf", h.work + "/u.tar", "--numeric-owner", "tmp/made"])
        #expect(listing.stdout.contains("100000/100000"), "\(listing.stdout)")
        #expect(try h.berth(["rm", "u"]).status == 0)

        // A private network namespace (sysfs mounted, not bound) works the same way.
        let isolated = try h.berth([
            "run", "--rm", "--network", "none", "--uidmap", "0:100000:65536", "img", "sh", "-c",
            "ls /sys/class/net; id -u",
        ])
        #expect(isolated.status == 0 && isolated.stdout == "lo\n0\n", "\(isolated.stdout) \(isolated.stderr)")

        let bad = try h.berth(["run", "--rm", "--uidmap", "0:100000", "img", "true"])
        #expect(bad.status != 0 && bad.stderr.contains("--uidmap"), "\(bad.stderr)")
        #expect(h.leakedMounts().isEmpty)
    }

    @Test func pureCgroupV2PathEnforcesTheDeviceAllowList() throws {
        guard let unified = Self.unifiedHierarchy() else {
            print("RuntimeOptionsTests: cgroup v2 part skipped (no cgroup2 hierarchy mounted)")
            return
        }
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase("img")
        let environment = ["BERTH_CGROUP_V2_ROOT": unified]
        let run = try h.berth(
            [
                "run", "--rm", "img", "sh", "-c",
                "grep ^0:: /proc/self/cgroup; echo ok > /dev/null && echo null-ok;"
                    + " mknod /tmp/disk b 7 0 && echo mknod-ok; head -c 1 /tmp/disk >/dev/null 2>&1 || echo disk-denied",
            ], environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "0::/\nnull-ok\nmknod-ok\ndisk-denied\n", "\(run.stdout)")
        // The container's cgroup is gone afterwards.
        let left = (try? FileManager.default.contentsOfDirectory(atPath: unified + "/berth")) ?? []
        let mine = left.filter { name in
            guard let owner = name.split(separator: "-").first.flatMap({ pid_t($0) }) else { return false }
            return kill(owner, 0) != 0
        }
        #expect(mine.isEmpty, "\(mine)")
    }

    static func unifiedHierarchy() -> String? {
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count > 2, fields[2] == "cgroup2" { return String(fields[1]) }
        }
        return nil
    }
}
