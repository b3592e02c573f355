import Foundation
import Testing

/// The walking skeleton end to end: import → build → run → rebuild from cache → save.
@Suite(.serialized) struct BuildEndToEndTests {
    @Test func demoBuildsAndRuns() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let build = try h.berth([
            "build", "--progress", "plain", "-t", "demo", BerthHarness.packageRoot + "/Fixtures/demo",
        ])
        #expect(build.status == 0, "build: \(build.stderr)")
        let run = try h.berth(["run", "--rm", "demo"])
        #expect(run.status == 0, "run: \(run.stderr)")
        #expect(run.stdout.split(separator: "\n").contains("hello from berth"))
        #expect(h.leakedMounts().isEmpty)
    }

    @Test func unchangedRebuildIsFullyCachedAndStartsNoContainer() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        // The RUN writes a nanosecond timestamp: if it ran again the layer, and so the image id, would differ.
        let ctx = try h.context(
            "cached",
            [
                "Dockerfile":
                    "FROM busybox-base\nCOPY a.txt /a.txt\nRUN date +%s%N > /stamp\nWORKDIR /w\nENV X=1\nRUN cat /a.txt /stamp > /w/out\n",
                "a.txt": "alpha\n",
            ])
        let first = try h.berth(["build", "--progress", "plain", "-t", "c1", ctx])
        #expect(first.status == 0, "first build: \(first.stderr)")
        #expect(!first.stderr.contains("CACHED"))
        let id1 = try h.imageID("c1")
        let second = try h.berth(["build", "--progress", "plain", "-t", "c1", ctx])
        #expect(second.status == 0, "second build: \(second.stderr)")
        let steps = second.stderr.split(separator: "\n").filter {
            $0.contains("] COPY") || $0.contains("] RUN") || $0.contains("] WORKDIR")
        }
        let cached = second.stderr.split(separator: "\n").filter { $0.hasSuffix(" CACHED") }
        #expect(steps.count == 4)
        #expect(cached.count == 4, "expected every step CACHED:\n\(second.stderr)")
        #expect(try h.imageID("c1") == id1)
        #expect(!id1.isEmpty)

        // A changed source file re-runs from the COPY that selects it.
        try "beta\n".write(toFile: ctx + "/a.txt", atomically: false, encoding: .utf8)
        let third = try h.berth(["build", "--progress", "plain", "-t", "c1", ctx])
        #expect(third.status == 0, "third build: \(third.stderr)")
        #expect(!third.stderr.contains("CACHED"))
        let run = try h.berth(["run", "--rm", "c1", "head", "-n1", "/w/out"])
        #expect(run.stdout == "beta\n")
        #expect(h.leakedMounts().isEmpty)
    }

    @Test func mtimeChangesKeepTheCache() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let ctx = try h.context("mtime", ["Dockerfile": "FROM busybox-base\nCOPY . /src\n", "f": "x\n", "d/g": "y\n"])
        #expect(try h.berth(["build", "--progress", "plain", "-t", "m", ctx]).status == 0)
        // Touch every file, as a fresh clone would.
        for path in ["f", "d/g", "Dockerfile", "d"] {
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: 12345)], ofItemAtPath: ctx + "/" + path)
        }
        let again = try h.berth(["build", "--progress", "plain", "-t", "m", ctx])
        #expect(again.stderr.contains("CACHED"), "\(again.stderr)")
    }

    @Test func failingStepReportsTheLineAndCleansUp() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let ctx = try h.context(
            "fail", ["Dockerfile": "FROM busybox-base\nRUN echo ok\nRUN echo boom && exit 3\nRUN echo never\n"])
        let result = try h.berth(["build", "--progress", "plain", "-t", "f", ctx])
        #expect(result.status == 1)
        #expect(result.stderr.contains("Dockerfile:3"), "\(result.stderr)")
        #expect(result.stderr.contains("exit code: 3"), "\(result.stderr)")
        #expect(result.stderr.contains(">>>"), "\(result.stderr)")
        #expect(result.stderr.contains("boom"))
        #expect(!result.stderr.contains("] RUN echo never"), "a step after the failure ran:\n\(result.stderr)")
        #expect(h.leakedMounts().isEmpty)
        // The failed step left no snapshot directory behind beyond committed ones.
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: h.root + "/snapshots")
        for entry in snapshots where entry != "empty" {
            #expect(
                !FileManager.default.fileExists(atPath: h.root + "/snapshots/\(entry)/work"),
                "active snapshot \(entry) left behind")
        }
    }

    @Test func badDockerfileNamesFileAndLine() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        let ctx = try h.context("bad", ["Dockerfile": "FROM scratch\nRUNN echo\n"])
        let result = try h.berth(["build", "-t", "b", ctx])
        #expect(result.status == 1)
        #expect(result.stderr.contains("Dockerfile:2"), "\(result.stderr)")
        #expect(result.stderr.hasPrefix("berth: error:"), "\(result.stderr)")
    }

    @Test func runExitCodesFollowDocker() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        #expect(try h.berth(["run", "--rm", "busybox-base", "sh", "-c", "exit 7"]).status == 7)
        // A child killed by SIGKILL: the shell reports 137 and so does berth.
        #expect(try h.berth(["run", "--rm", "busybox-base", "sh", "-c", "sh -c 'kill -9 $$'; exit $?"]).status == 137)
        #expect(try h.berth(["run", "--rm", "busybox-base", "/no/such/thing"]).status == 127)
        #expect(try h.berth(["run", "--rm", "busybox-base", "/etc/passwd"]).status == 126)
        #expect(try h.berth(["run", "--rm", "no-such-image"]).status == 125)
        #expect(h.leakedMounts().isEmpty)
    }

    @Test func usageErrorsExitTwo() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        #expect(try h.berth(["build", "--progress", "fancy", "."]).status == 2)
        #expect(try h.berth(["no-such-command"]).status == 2)
        let version = try BerthHarness.run(BerthHarness.binary, ["--version"])
        #expect(version.status == 0 && !version.stdout.isEmpty)
    }
}

/// ARGs, build args and .dockerignore files as BuildKit treats them.
@Suite(.serialized) struct BuildContextTests {
    @Test func dockerfileSpecificIgnoreFileWinsAndUnusedArgsWarn() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let ctx = try h.context(
            "ignore",
            [
                "build/app.Dockerfile": "FROM busybox-base\nARG USED=default\nCOPY . /ctx\nRUN echo $USED > /used\n",
                "build/app.Dockerfile.dockerignore": "secret.txt\n",
                ".dockerignore": "public.txt\n",
                "secret.txt": "s\n",
                "public.txt": "p\n",
            ])
        let result = try h.berth([
            "build", "--progress", "plain", "-t", "ign", "-f", ctx + "/build/app.Dockerfile",
            "--build-arg", "USED=given", "--build-arg", "EXTRA=1", ctx,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("build-args [EXTRA] were not consumed"), "\(result.stderr)")
        let listing = try h.berth(["run", "--rm", "ign", "sh", "-c", "ls /ctx; cat /used"])
        #expect(listing.stdout.contains("public.txt"))
        #expect(!listing.stdout.contains("secret.txt"))
        #expect(listing.stdout.contains("given"))
    }
}

/// Independent stages build side by side; a failing one stops the others cleanly.
@Suite(.serialized) struct ParallelStageTests {
    @Test func independentStagesAllLandInTheFinalImage() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        var dockerfile = ""
        for i in 0..<3 { dockerfile += "FROM busybox-base AS s\(i)\nRUN echo \(i) > /out\(i)\n" }
        dockerfile += "FROM busybox-base\n" + (0..<3).map { "COPY --from=s\($0) /out\($0) /out\($0)\n" }.joined()
        let ctx = try h.context("parallel", ["Dockerfile": dockerfile])
        let build = try h.berth(["build", "--progress", "plain", "-t", "par", ctx])
        #expect(build.status == 0, "\(build.stderr)")
        #expect(try h.berth(["run", "--rm", "par", "cat", "/out0", "/out1", "/out2"]).stdout == "0\n1\n2\n")
        // Unneeded stages are not built.
        let target = try h.berth(["build", "--progress", "plain", "--target", "s1", "-t", "s1", ctx])
        #expect(!target.stderr.contains("echo 0") && !target.stderr.contains("echo 2"), "\(target.stderr)")
    }

    @Test func aFailingStageCancelsTheOthers() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let marker = String(Int.random(in: 100_000...999_999))
        let ctx = try h.context(
            "cancel",
            [
                "Dockerfile":
                    "FROM busybox-base AS slow\nRUN sleep \(marker)\nFROM busybox-base AS bad\nRUN exit 3\nFROM busybox-base\nCOPY --from=slow /etc/passwd /a\nCOPY --from=bad /etc/passwd /b\n"
            ])
        let result = try h.berth(["build", "--progress", "plain", "-t", "x", ctx])
        #expect(result.status == 1)
        #expect(result.stderr.contains("exit code: 3"), "\(result.stderr)")
        let survivors = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { entry in
            guard Int(entry) != nil,
                let cmdline = try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8)
            else {
                return false
            }
            return cmdline.hasPrefix("sleep\u{0}\(marker)")
        }
        #expect(survivors.isEmpty, "the slow stage's container survived: \(survivors)")
        #expect(h.leakedMounts().isEmpty)
    }
}
