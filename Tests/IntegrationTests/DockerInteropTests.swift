import Foundation
import Testing

/// `berth save` output loaded by docker: skips, saying so, when no docker daemon answers.
@Suite(.serialized) struct DockerInteropTests {
    @Test func dockerLoadsAndRunsWhatBerthSaves() throws {
        guard BerthHarness.dockerAvailable else {
            print(
                "DockerInteropTests: skipped (no docker daemon; apt-get install docker.io && dockerd --iptables=false --bridge=none &)"
            )
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

/// Images going the other way, and the image commands around them.
@Suite(.serialized) struct ImageCommandTests {
    @Test func berthLoadsAndRunsWhatDockerSaves() throws {
        guard BerthHarness.dockerAvailable else {
            print("ImageCommandTests: docker part skipped (no docker daemon)")
            return
        }
        let h = try BerthHarness()
        defer { h.cleanup() }
        let tag = "berth-fromdocker-\(UUID().uuidString.prefix(8).lowercased()):1"
        let made = try BerthHarness.run(
            "/usr/bin/python3", [BerthHarness.packageRoot + "/Fixtures/base/make-rootfs.py", h.work + "/base.tar"])
        #expect(made.status == 0)
        #expect(
            try BerthHarness.run(
                "/usr/bin/docker",
                [
                    "import", "-c", "CMD [\"sh\",\"-c\",\"echo from docker; cat /etc/passwd | head -1\"]",
                    h.work + "/base.tar", tag,
                ]
            ).status == 0)
        defer { _ = try? BerthHarness.run("/usr/bin/docker", ["rmi", "-f", tag]) }
        #expect(try BerthHarness.run("/usr/bin/docker", ["save", "-o", h.work + "/docker.tar", tag]).status == 0)
        let load = try h.berth(["load", "-i", h.work + "/docker.tar"])
        #expect(load.status == 0, "\(load.stderr)")
        #expect(load.stdout.contains("Loaded image: \(tag)"))
        let run = try h.berth(["run", "--rm", tag])
        #expect(run.stdout == "from docker\nroot:x:0:0:root:/root:/bin/sh\n", "\(run.stdout)\(run.stderr)")
        // The image id is docker's own: the config bytes are kept.
        let dockerID = try BerthHarness.run("/usr/bin/docker", ["image", "inspect", "--format", "{{.Id}}", tag]).stdout
        #expect(
            try h.imageID(tag.replacingOccurrences(of: ":1", with: ""))
                == dockerID.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func tagHistoryInspectRmiExport() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        #expect(try h.berth(["build", "-q", "-t", "demo", BerthHarness.packageRoot + "/Fixtures/demo"]).status == 0)
        #expect(try h.berth(["tag", "demo", "demo:2"]).status == 0)
        let history = try h.berth(["history", "demo:2"])
        #expect(history.stdout.contains("COPY greeting.txt ./"))
        let inspect = try h.berth(["inspect", "demo"])
        let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [[String: Any]]
        #expect((json?.first?["RepoTags"] as? [String])?.sorted() == ["demo:2", "demo:latest"])
        #expect(try h.berth(["rmi", "demo:2"]).stdout == "Untagged: demo:2\n")
        #expect(try h.berth(["export", "-o", h.work + "/fs.tar", "demo"]).status == 0)
        let listing = try BerthHarness.run("/bin/tar", ["tf", h.work + "/fs.tar"])
        #expect(listing.stdout.contains("app/greeting.txt"))
        #expect(try h.berth(["rmi", "demo"]).status == 0)
        #expect(try h.berth(["run", "--rm", "demo"]).status == 125)
    }
}
