import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// run → change → commit → share, detached containers, and terminals, with the real binary.
@Suite(.serialized) struct ContainerLifecycleTests {
    @Test func runDiffCommitRunHistoryAndDockerLoad() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase("img")
        let run = try h.berth(["run", "--name", "c", "img", "sh", "-c", "echo hi > /f && rm /etc/group"])
        #expect(run.status == 0, "\(run.stderr)")
        let diff = try h.berth(["diff", "c"]).stdout.split(separator: "\n").map(String.init)
        #expect(diff.contains("A /f"), "\(diff)")
        #expect(diff.contains("D /etc/group"), "\(diff)")
        let commit = try h.berth(["commit", "-m", "msg", "-c", #"CMD ["cat","/f"]"#, "c", "img:2"])
        #expect(commit.status == 0, "\(commit.stderr)")
        #expect(try h.berth(["run", "--rm", "img:2"]).stdout == "hi\n")
        #expect(try h.berth(["history", "img:2"]).stdout.contains("msg"))
        // The committed image builds on: FROM it works.
        let context = try h.context("child", ["Dockerfile": "FROM img:2\nRUN cat /f > /g\nCMD [\"cat\", \"/g\"]\n"])
        #expect(try h.berth(["build", "-q", "-t", "child", context]).status == 0)
        #expect(try h.berth(["run", "--rm", "child"]).stdout == "hi\n")
        let ps = try h.berth(["ps", "-a", "--format", "json"]).stdout
        #expect(ps.contains("\"Names\":\"c\"") && ps.contains("\"State\":\"exited\""), "\(ps)")
        #expect(try h.berth(["rmi", "img"]).status == 1, "an image a container uses is not removed")
        #expect(try h.berth(["rm", "c"]).status == 0)
        #expect(try h.berth(["ps", "-a", "-q"]).stdout.isEmpty)

        guard BerthHarness.dockerAvailable else {
            print("ContainerLifecycleTests: docker part skipped (no docker daemon)")
            return
        }
        let tag = "berth-commit-\(UUID().uuidString.prefix(8).lowercased()):2"
        #expect(try h.berth(["tag", "img:2", tag]).status == 0)
        #expect(try h.berth(["save", "-o", h.work + "/img2.tar", tag]).status == 0)
        #expect(try BerthHarness.run("/usr/bin/docker", ["load", "-i", h.work + "/img2.tar"]).status == 0)
        defer { _ = try? BerthHarness.run("/usr/bin/docker", ["rmi", "-f", tag]) }
        let dockerRun = try BerthHarness.run("/usr/bin/docker", ["run", "--rm", "--network", "none", tag])
        #expect(dockerRun.stdout == "hi\n", "\(dockerRun.stderr)")
    }

    /// Roots that are committed or thrown away (build steps, `run --rm`) are mounted volatile:
    /// no file-system sync at unmount. A kept container's is not, and it starts again on its own
    /// upper directory with its changes.
    @Test func throwAwayRootsAreVolatileAndKeptOnesStartAgain() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase("img")
        let rootLine = "grep ' / overlay ' /proc/mounts"
        let ctx = try h.context(
            "volatile", ["Dockerfile": "FROM img\nRUN \(rootLine) > /step-root\nCMD [\"cat\", \"/step-root\"]\n"])
        #expect(try h.berth(["build", "-q", "-t", "v", ctx]).status == 0)
        let step = try h.berth(["run", "--rm", "v"]).stdout
        #expect(step.contains(" / overlay ") && step.contains("volatile"), "\(step)")
        let removed = try h.berth(["run", "--rm", "img", "sh", "-c", rootLine]).stdout
        #expect(removed.contains("volatile"), "\(removed)")
        let script = "\(rootLine); echo x >> /count; wc -l < /count"
        let kept = try h.berth(["run", "--name", "k", "img", "sh", "-c", script])
        #expect(kept.status == 0 && kept.stdout.contains(" / overlay "), "\(kept.stderr)")
        #expect(!kept.stdout.contains("volatile") && kept.stdout.hasSuffix("1\n"), "\(kept.stdout)")
        let again = try h.berth(["start", "-a", "k"])
        #expect(again.status == 0 && again.stdout.hasSuffix("2\n"), "\(again.stdout)\(again.stderr)")
        #expect(try h.berth(["rm", "k"]).status == 0)
    }

    @Test func detachedContainersLogExecStopAndOutliveBerth() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase("img")
        let script = "trap '' TERM; i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done"
        let started = Date()
        let run = try h.berth(["run", "-d", "--name", "d", "img", "sh", "-c", script])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(Date().timeIntervalSince(started) < 5, "run -d returns at once")
        let id = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 64)
        // The berth that started it has exited; the container runs on.
        #expect(try h.berth(["ps", "-q", "--no-trunc"]).stdout.contains(id))

        // logs -f streams while the container runs.
        let follower = try Spawned(BerthHarness.binary, ["--root", h.root, "logs", "-f", "d"], captureOutput: true)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !follower.stdout.contains("line 5\n") { Thread.sleep(forTimeInterval: 0.05) }
        #expect(follower.stdout.contains("line 5\n"))
        #expect(follower.isRunning, "logs -f keeps following a running container")

        let exec = try h.berth([
            "exec", "-e", "X=1", "d", "sh", "-c", "echo $X $(hostname); cat /proc/1/cmdline | head -c 2",
        ])
        #expect(exec.status == 0, "\(exec.stderr)")
        #expect(exec.stdout == "1 \(id.prefix(12))\nsh")
        #expect(try h.berth(["exec", "d", "sh", "-c", "exit 3"]).status == 3)

        let stopStarted = Date()
        let stop = try h.berth(["stop", "-t", "2", "d"])
        #expect(stop.status == 0)
        #expect(Date().timeIntervalSince(stopStarted) < 3, "SIGTERM is ignored, so SIGKILL follows after 2 s")
        #expect(try h.berth(["wait", "d"]).stdout == "137\n")
        follower.wait()
        #expect(try h.berth(["ps", "-a"]).stdout.contains("Exited (137)"))
        #expect(try h.berth(["logs", "--tail", "1", "d"]).stdout.hasPrefix("line "))
        #expect(try h.berth(["start", "d"]).status == 0)
        #expect(try h.berth(["ps", "-q"]).stdout.count > 0)
        #expect(try h.berth(["rm", "-f", "d"]).status == 0)
        #expect(h.leakedMounts().isEmpty)
    }

    @Test func interruptingAForegroundContainerTearsItDown() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase("img")
        for (signal, expected) in [(SIGINT, Int32(137)), (SIGKILL, Int32(-1))] {
            let name = "fg\(signal)"
            // sleep as pid 1 ignores SIGINT: berth forwards it, then kills after --stop-timeout.
            let berth = try Spawned(
                BerthHarness.binary,
                ["--root", h.root, "run", "--name", name, "--stop-timeout", "1", "img", "sleep", "987"])
            var running = false
            for _ in 0..<100 where !running {
                Thread.sleep(forTimeInterval: 0.05)
                running = try h.berth(["ps", "-q"]).stdout.count > 0
            }
            #expect(running)
            kill(berth.pid, signal)
            let status = berth.wait()
            if expected >= 0 { #expect(status == expected) }
            // Whatever happened to berth, the container is gone and says so.
            var exited = false
            for _ in 0..<100 where !exited {
                exited = try h.berth(["ps", "-a"]).stdout.contains("Exited (137)")
                if !exited { Thread.sleep(forTimeInterval: 0.05) }
            }
            #expect(exited)
            #expect(try h.berth(["rm", name]).status == 0)
        }
        #expect(h.leakedMounts().isEmpty)
        let processes = try BerthHarness.run("/usr/bin/pgrep", ["-x", "-f", "sleep 987"])
        #expect(processes.stdout.isEmpty)
    }

    @Test func interactiveTerminalUnderTmux() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") else {
            print("ContainerLifecycleTests: terminal part skipped (apt-get install tmux)")
            return
        }
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase("img")
        let session = "berth-\(UUID().uuidString.prefix(8))"
        let exitFile = h.work + "/exit"
        let tmux = "/usr/bin/tmux"
        let command = "\(BerthHarness.binary) --root \(h.root) run -it --rm img sh; echo $? > \(exitFile); sleep 60"
        #expect(
            try BerthHarness.run(tmux, ["new-session", "-d", "-s", session, "-x", "100", "-y", "30", command]).status
                == 0)
        defer { _ = try? BerthHarness.run(tmux, ["kill-session", "-t", session]) }
        func screen() throws -> String { try BerthHarness.run(tmux, ["capture-pane", "-p", "-t", session]).stdout }
        func waitFor(_ text: String) throws -> Bool {
            for _ in 0..<100 {
                if try screen().contains(text) { return true }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return false
        }
        #expect(try waitFor("/ #"))
        _ = try BerthHarness.run(tmux, ["send-keys", "-t", session, "echo typed-$((6*7))", "Enter"])
        #expect(try waitFor("typed-42"), "input is echoed and run")
        _ = try BerthHarness.run(tmux, ["send-keys", "-t", session, "stty size", "Enter"])
        #expect(try waitFor("30 100"))
        _ = try BerthHarness.run(tmux, ["resize-window", "-t", session, "-x", "120", "-y", "40"])
        Thread.sleep(forTimeInterval: 0.3)
        _ = try BerthHarness.run(tmux, ["send-keys", "-t", session, "stty size", "Enter"])
        #expect(try waitFor("40 120"), "the window size follows a resize")
        _ = try BerthHarness.run(tmux, ["send-keys", "-t", session, "C-d"])
        var code: String?
        for _ in 0..<100 where code == nil {
            code = try? String(contentsOfFile: exitFile, encoding: .utf8)
            if code == nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(code == "0\n", "Ctrl-D ends the shell with status 0")
    }
}

/// cp, inspect, export and flags of kept containers.
@Suite(.serialized) struct ContainerToolsTests {
    @Test func cpStaysInsideTheContainerRoot() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase("img")
        let setup =
            "mkdir -p /data/sub && echo one > /data/sub/a && ln -s ../../../../etc /data/escape && ln -s /etc /data/abs"
        #expect(try h.berth(["run", "--name", "c", "img", "sh", "-c", setup]).status == 0)
        let out = h.work + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        #expect(try h.berth(["cp", "c:/data", out]).status == 0)
        #expect(try String(contentsOfFile: out + "/data/sub/a", encoding: .utf8) == "one\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: out + "/data/escape") == "../../../../etc")
        let marker = "berth-cp-\(UUID().uuidString.prefix(8))"
        try Data("in\n".utf8).write(to: URL(fileURLWithPath: h.work + "/" + marker))
        // Through a symlink that points "above" the root: it lands in the container's /etc.
        #expect(try h.berth(["cp", h.work + "/" + marker, "c:/data/escape/"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: "/etc/" + marker))
        #expect(try h.berth(["diff", "c"]).stdout.contains("A /etc/\(marker)"))
        // A combining mark after the last slash: the name is "\u{301}m…", below /data/abs (which
        // resolves inside the root), never "abs/\u{301}m…" opened through the host's /etc.
        let marked = "\u{301}" + marker
        #expect(try h.berth(["cp", h.work + "/" + marker, "c:/data/abs/" + marked]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: "/etc/" + marked))
        #expect(try h.berth(["diff", "c"]).stdout.contains("A /etc/\(marked)"))
        let inspect = try h.berth(["inspect", "c"]).stdout
        #expect(inspect.contains("\"Name\" : \"/c\""))
        #expect(try h.berth(["export", "-o", h.work + "/c.tar", "c"]).status == 0)
        let listing = try BerthHarness.run("/usr/bin/tar", ["-tf", h.work + "/c.tar"]).stdout
        #expect(listing.contains("etc/\(marker)") && listing.contains("data/sub/a"))
    }

    @Test func initForwardsSignalsReapsAndKeepsItsStatus() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase("img")
        let run = try h.berth([
            "run", "--rm", "--init", "img", "sh", "-c",
            "echo $$; cat /proc/1/comm; readlink /proc/1/exe || echo hidden; (sleep 100 &); exit 4",
        ])
        #expect(run.status == 4)
        #expect(run.stdout == "2\ninit\nhidden\n", "\(run.stdout)")
        let sleeper = try Spawned(
            BerthHarness.binary, ["--root", h.root, "run", "--rm", "--init", "img", "sleep", "50"])
        Thread.sleep(forTimeInterval: 0.7)
        kill(sleeper.pid, SIGTERM)
        #expect(sleeper.wait() == 143, "SIGTERM reached sleep through berth and the init")
    }

    @Test func runFlagsReachTheContainer() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase("img")
        let host = h.work + "/shared"
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        try Data("from host\n".utf8).write(to: URL(fileURLWithPath: host + "/file"))
        try Data("A=1\n# comment\nB=two\n".utf8).write(to: URL(fileURLWithPath: h.work + "/env"))
        let script =
            "cat /mnt/file; echo $A$B$C; hostname; ulimit -n; touch /ro/x 2>/dev/null || echo ro; "
            + "mount | grep -c ' /scratch type tmpfs'; echo v > /vol/v; grep CapEff /proc/self/status"
        let run = try h.berth([
            "run", "--rm", "-v", host + ":/mnt:ro", "-v", "named:/vol", "--tmpfs", "/scratch", "--env-file",
            h.work + "/env", "-e", "C=3", "--hostname", "box", "--ulimit", "nofile=512:1024", "--mount",
            "type=bind,source=\(host),target=/ro,readonly", "--cap-drop", "ALL", "--memory", "64m", "--pids-limit",
            "50",
            "img", "sh", "-c", script,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "from host\n1two3\nbox\n512\nro\n1\nCapEff:\t0000000000000000\n", "\(run.stdout)")
        #expect(FileManager.default.fileExists(atPath: h.root + "/volumes/named/_data/v"))
        let readOnly = try h.berth(["run", "--rm", "--read-only", "img", "touch", "/x"])
        #expect(readOnly.status == 1)
        let bad = try h.berth(["run", "--rm", "--ulimit", "nofile=9:3", "img", "true"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("soft limit"))
    }
}
