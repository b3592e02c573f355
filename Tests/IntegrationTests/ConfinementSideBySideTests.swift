import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The same confinement probes (Scripts/confinement-probe.c, compiled statically) run as the
/// command of the same image under `berth run` and `docker run`; every line must agree. Skips
/// without a docker daemon or a static C toolchain.
@Suite(.serialized) struct ConfinementSideBySideTests {
    @Test func berthDeniesWhatDockerDenies() throws {
        guard BerthHarness.dockerAvailable else {
            print("ConfinementSideBySideTests: skipped (no docker daemon)")
            return
        }
        let h = try BerthHarness()
        defer { h.cleanup() }
        let source = BerthHarness.packageRoot + "/Tests/IntegrationTests/Scripts/confinement-probe.c"
        let context = try h.context("probe", ["Dockerfile": "FROM img\nCOPY probe /probe\nCMD [\"/probe\"]\n"])
        let compile = try BerthHarness.run("/usr/bin/gcc", ["-static", "-O2", "-o", context + "/probe", source])
        guard compile.status == 0 else {
            print("ConfinementSideBySideTests: skipped (cannot compile a static probe: \(compile.stderr))")
            return
        }
        try h.importBase("img")
        let tag = "berth-probe-\(UUID().uuidString.prefix(8).lowercased())"
        #expect(try h.berth(["build", "-q", "-t", tag, context]).status == 0)
        #expect(try h.berth(["save", "-o", h.work + "/probe.tar", tag]).status == 0)
        let load = try BerthHarness.run("/usr/bin/docker", ["load", "-i", h.work + "/probe.tar"])
        #expect(load.status == 0, "\(load.stderr)")
        defer { _ = try? BerthHarness.run("/usr/bin/docker", ["rmi", "-f", tag]) }

        let berth = try h.berth(["run", "--rm", "--network", "none", tag])
        let docker = try BerthHarness.run("/usr/bin/docker", ["run", "--rm", "--network", "none", tag])
        #expect(berth.status == 0, "\(berth.stderr)")
        #expect(docker.status == 0, "\(docker.stderr)")
        let ours = berth.stdout.split(separator: "\n").map(String.init)
        let theirs = docker.stdout.split(separator: "\n").map(String.init)
        // Side by side, for the log.
        let width = (ours.map(\.count).max() ?? 0) + 2
        print("probe (berth run | docker run)")
        for index in 0..<max(ours.count, theirs.count) {
            let left = index < ours.count ? ours[index] : ""
            let right = index < theirs.count ? theirs[index] : ""
            print(
                left.padding(toLength: width, withPad: " ", startingAt: 0) + "| " + right
                    + (left == right ? "" : "  <<"))
        }
        #expect(ours.count > 25, "the probe ran to its end")
        #expect(ours == theirs)
        // The denials the runtime issue names, explicitly.
        for line in [
            "mount tmpfs: denied (EPERM)", "unshare mount namespace: denied (EPERM)",
            "keyctl join session keyring: denied (EPERM)", "sethostname: denied (EPERM)",
            "open the block device: denied (EPERM)", "pid: 1",
        ] {
            #expect(ours.contains(line), "\(line)")
        }
    }
}
