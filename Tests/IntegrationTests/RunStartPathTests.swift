import Foundation
import Testing

/// The shortcuts `run --rm` takes to start fast keep what the slow path did.
@Suite(.serialized) struct RunStartPathTests {
    /// A `--rm` container's root is a volatile overlay (its upper directory is thrown away, so
    /// nothing is synced); a kept container's is not. Neither leaves a mount or directory.
    @Test func onlyDisposableRootsAreVolatile() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase("img")
        let rootLine = "grep ' / overlay ' /proc/mounts"
        let disposable = try h.berth(["run", "--rm", "img", "sh", "-c", rootLine])
        #expect(disposable.status == 0, "\(disposable.stderr)")
        #expect(disposable.stdout.contains("volatile"), "\(disposable.stdout)")
        let kept = try h.berth(["run", "--name", "kept", "img", "sh", "-c", rootLine + " && echo x > /f"])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(!kept.stdout.contains("volatile"), "\(kept.stdout)")
        #expect(try h.berth(["diff", "kept"]).stdout.contains("A /f"))
        #expect(try h.berth(["rm", "kept"]).status == 0)
        #expect(h.leakedMounts().isEmpty, "\(h.leakedMounts())")
        let containers = try FileManager.default.contentsOfDirectory(atPath: h.root + "/containers")
        #expect(containers.isEmpty, "\(containers)")
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
}
