import Foundation
import Testing

/// `berth save` output loaded by docker: skips, saying so, when no docker daemon answers.
@Suite(.serialized) struct DockerInteropTests {
    @Test func dockerLoadsAndRunsWhatBerthSaves() throws {
        guard BerthHarness.dockerAvailable else {
            print("DockerInteropTests: skipped (no docker daemon; apt-get install docker.io && dockerd --iptables=false --bridge=none &)")
            return
        }
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let tag = "berth-interop-\(UUID().uuidString.prefix(8).lowercased()):1"
        let build = try h.berth(["build", "-q", "-t", tag, BerthHarness.packageRoot + "/Fixtures/demo"])
        #expect(build.status == 0, "\(build.stderr)")
        let archive = h.work + "/demo.tar"
        let save = try h.berth(["save", "-o", archive, tag])
        #expect(save.status == 0, "\(save.stderr)")
        let load = try BerthHarness.run("/usr/bin/docker", ["load", "-i", archive])
        #expect(load.status == 0, "docker load: \(load.stderr)")
        defer { _ = try? BerthHarness.run("/usr/bin/docker", ["rmi", "-f", tag]) }
        let dockerRun = try BerthHarness.run("/usr/bin/docker", ["run", "--rm", "--network", "none", tag])
        #expect(dockerRun.status == 0, "docker run: \(dockerRun.stderr)")
        let berthRun = try h.berth(["run", "--rm", tag])
        #expect(berthRun.status == 0)
        #expect(dockerRun.stdout == berthRun.stdout)
        #expect(berthRun.stdout.contains("hello from berth"))
    }
}
