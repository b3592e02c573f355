import Foundation
import Testing

/// The shortcuts `run --rm` takes to start fast keep what the slow path did.
@Suite(.serialized) struct RunStartPathTests {
    /// A `--rm` container keeps its state files (hosts, hostname, resolv.conf) in its own
    /// directory, bound read-only as docker's are; nothing is left once it has ended, and a
    /// kept container's directory keeps only what it keeps.
    @Test func stateFilesLiveWithTheContainerAndLeaveNothing() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase("img")
        let probe = "cat /etc/hostname; grep -c localhost /etc/hosts; echo x > /etc/hosts || echo read-only"
        let disposable = try h.berth(["run", "--rm", "--hostname", "box", "img", "sh", "-c", probe])
        #expect(disposable.status == 0, "\(disposable.stderr)")
        #expect(disposable.stdout.hasPrefix("box\n2\n"), "\(disposable.stdout)")
        #expect(disposable.stdout.hasSuffix("read-only\n"), "\(disposable.stdout)")
        let kept = try h.berth(["run", "--name", "kept", "img", "sh", "-c", "echo x > /f"])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(try h.berth(["diff", "kept"]).stdout.contains("A /f"))
        #expect(try h.berth(["rm", "kept"]).status == 0)
        #expect(h.leakedMounts().isEmpty, "\(h.leakedMounts())")
        for directory in ["containers", "runtime"] {
            let left = try FileManager.default.contentsOfDirectory(atPath: h.root + "/" + directory)
                .filter { $0 != "seccomp" }
            #expect(left.isEmpty, "\(directory): \(left)")
        }
    }

    /// `run` is parsed by RunCommand alone when it can be; help, completion requests, words
    /// the full parser acts on and errors give the full parser's answers.
    @Test func runParsesLikeTheFullCommandTree() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase("img")
        let passthrough = try h.berth(["run", "--rm", "img", "echo", "--version", "-h", "help"])
        #expect(passthrough.status == 0 && passthrough.stdout == "--version -h help\n", "\(passthrough)")
        let help = try h.berth(["run", "--help"])
        #expect(help.status == 0 && help.stdout.contains("USAGE: berth run [<options>] <image>"), "\(help.stdout)")
        let unknown = try h.berth(["run", "--bogus", "img"])
        #expect(unknown.status == 2, "\(unknown)")
        #expect(unknown.stderr.contains("Unknown option '--bogus'"), "\(unknown.stderr)")
        #expect(unknown.stderr.contains("Usage: berth run [<options>] <image>"), "\(unknown.stderr)")
        let missing = try h.berth(["run", "--rm"])
        #expect(missing.status == 2 && missing.stderr.contains("Missing expected argument '<image>'"))
        let completion = try h.berth(["run", "--rm", "img", "--generate-completion-script", "bash"])
        #expect(completion.stdout.contains("_berth_run()"), "the full parser answers completion requests")
        let status = try h.berth(["run", "--rm", "img", "sh", "-c", "exit 7"])
        #expect(status.status == 7)
    }

    /// `build` takes the same shortcut: its help, errors and completion come from the full parser.
    @Test func buildParsesLikeTheFullCommandTree() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase("img")
        let ctx = try h.context("fast", ["Dockerfile": "FROM img\nARG A\nRUN echo \"a=$A\"\n"])
        let built = try h.berth(["build", "--progress", "plain", "--build-arg", "A=--help", "-t", "fast", ctx])
        #expect(built.status == 0 && built.stderr.contains("a=--help"), "\(built.stderr)")
        let help = try h.berth(["build", "--help"])
        #expect(help.status == 0 && help.stdout.contains("USAGE: berth build"), "\(help.stdout)")
        let unknown = try h.berth(["build", "--bogus", ctx])
        #expect(unknown.status == 2 && unknown.stderr.contains("Unknown option '--bogus'"), "\(unknown.stderr)")
        #expect(unknown.stderr.contains("Usage: berth build"), "\(unknown.stderr)")
        let badProgress = try h.berth(["build", "--progress", "bogus", ctx])
        #expect(badProgress.status == 2, "\(badProgress)")
        let completion = try h.berth(["build", ctx, "--generate-completion-script", "bash"])
        #expect(completion.stdout.contains("_berth_build()"), "the full parser answers completion requests")
    }
}
