import Foundation
import Testing

/// ONBUILD triggers of a base image, compared with docker's BuildKit.
@Suite(.serialized) struct OnBuildTests {
    static let parent = """
        ARG BASE
        FROM $BASE
        ONBUILD COPY f /ob/
        ONBUILD RUN mkdir -p /ob2 && echo hi > /ob2/x && chown 1:1 /ob2/x
        ONBUILD WORKDIR /obw
        ONBUILD ENV FROM_TRIGGER=yes
        """
    static let child = """
        ARG PARENT
        FROM $PARENT
        RUN echo "$FROM_TRIGGER $(pwd)" > /ob3

        """

    @Test func triggersRunAfterFromAndAreNotInherited() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let parentContext = try h.context("parent", ["Dockerfile": Self.parent, "f": "parent context\n"])
        let childContext = try h.context("child", ["Dockerfile": Self.child, "f": "child context\n"])
        let grandchild = try h.context("grandchild", ["Dockerfile": "FROM child\nRUN test ! -e /gc\n", "f": "gc\n"])
        let parent = try h.berth(["build", "-q", "--build-arg", "BASE=busybox-base", "-t", "parent", parentContext])
        #expect(parent.status == 0, "\(parent.stderr)")
        let child = try h.berth([
            "build", "--progress", "plain", "--build-arg", "PARENT=parent", "-t", "child", childContext,
        ])
        #expect(child.status == 0, "\(child.stderr)")
        let out = try h.berth(["run", "--rm", "child", "cat", "/ob/f", "/ob3"])
        #expect(out.stdout == "child context\nyes /obw\n", "\(out.stdout)\(out.stderr)")
        let inspect = try h.berth(["inspect", "child"])
        let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [[String: Any]]
        let config = json?.first?["Config"] as? [String: Any]
        let triggers = config?["OnBuild"] as? [String] ?? []
        #expect(triggers.isEmpty, "\(inspect.stdout)")
        // The child's image has no triggers: a grandchild runs none (its /ob would be rewritten).
        let built = try h.berth(["build", "--progress", "plain", "-t", "gc", grandchild])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(!built.stderr.contains("ONBUILD"), "\(built.stderr)")
        #expect(try h.berth(["run", "--rm", "gc", "cat", "/ob/f"]).stdout == "child context\n")

        guard BerthHarness.dockerAvailable else {
            print("OnBuildTests: docker comparison skipped (no docker daemon)")
            return
        }
        let berthListing = try FileSystemListing.berth(
            h, context: childContext, prefixes: ["ob", "ob2", "ob3", "obw"], extra: ["--build-arg", "PARENT=parent"])
        // docker: the same parent on the same base, then the same child.
        let id = UUID().uuidString.prefix(8).lowercased()
        let base = "berth-ob-base-\(id):1"
        let dockerParent = "berth-ob-parent-\(id):1"
        #expect(try BerthHarness.run("/usr/bin/docker", ["import", h.work + "/base.tar", base]).status == 0)
        defer { _ = try? BerthHarness.run("/usr/bin/docker", ["rmi", "-f", dockerParent, base]) }
        let dockerBuild = try BerthHarness.run(
            "/usr/bin/docker",
            ["build", "-q", "--network", "none", "--build-arg", "BASE=\(base)", "-t", dockerParent, parentContext],
            environment: ["DOCKER_BUILDKIT": "1"])
        #expect(dockerBuild.status == 0, "\(dockerBuild.stderr)")
        let dockerListing = try FileSystemListing.docker(
            h, context: childContext, prefixes: ["ob", "ob2", "ob3", "obw"],
            extra: ["--build-arg", "PARENT=\(dockerParent)"])
        #expect(berthListing == dockerListing, "berth:\n\(berthListing)\ndocker:\n\(dockerListing)")
    }

    /// As the current Dockerfile reference allows (BuildKit 20.10 resolved the stage without
    /// building it): a trigger's `COPY --from` names a stage of the child's Dockerfile, which the
    /// plan builds first.
    @Test func triggerCopiesFromAStageOfTheChild() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let parentContext = try h.context(
            "parent", ["Dockerfile": "FROM busybox-base\nONBUILD COPY --from=helper /hf /hf\n"])
        #expect(try h.berth(["build", "-q", "-t", "p", parentContext]).status == 0)
        let childContext = try h.context(
            "child",
            ["Dockerfile": "FROM busybox-base AS helper\nRUN echo helper > /hf\nFROM p\nRUN cat /hf > /copied\n"])
        let child = try h.berth(["build", "-q", "-t", "c", childContext])
        #expect(child.status == 0, "\(child.stderr)")
        #expect(try h.berth(["run", "--rm", "c", "cat", "/copied"]).stdout == "helper\n")
    }

    @Test func aFailingTriggerIsNamed() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let parentContext = try h.context(
            "parent", ["Dockerfile": "FROM busybox-base\nONBUILD COPY missing.txt /x/\n"])
        #expect(try h.berth(["build", "-q", "-t", "p", parentContext]).status == 0)
        let childContext = try h.context("child", ["Dockerfile": "FROM p\nRUN true\n"])
        let child = try h.berth(["build", "-q", "-t", "c", childContext])
        #expect(child.status != 0)
        #expect(child.stderr.contains("ONBUILD trigger \"COPY missing.txt /x/\""), "\(child.stderr)")
        #expect(child.stderr.contains("missing.txt"), "\(child.stderr)")
    }
}

/// `--no-cache-filter`: the named stages ignore cache hits, the others stay cached.
@Suite(.serialized) struct NoCacheFilterTests {
    @Test func onlyTheNamedStagesRunAgain() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let ctx = try h.context(
            "ncf",
            [
                "Dockerfile": """
                FROM busybox-base AS one
                RUN date +%s%N > /stamp1
                FROM busybox-base AS two
                RUN date +%s%N > /stamp2
                FROM two
                COPY --from=one /stamp1 /

                """
            ])
        #expect(try h.berth(["build", "-q", "-t", "n", ctx]).status == 0)
        let one = "RUN date +%s%N > /stamp1"
        let two = "RUN date +%s%N > /stamp2"
        let filtered = try h.berth(["build", "--progress", "plain", "--no-cache-filter", "one", "-t", "n", ctx])
        #expect(filtered.status == 0, "\(filtered.stderr)")
        #expect(!CopyAddTests.cached(filtered.stderr, one), "\(filtered.stderr)")
        #expect(CopyAddTests.cached(filtered.stderr, two), "\(filtered.stderr)")
        let both = try h.berth(["build", "--progress", "plain", "--no-cache-filter", "two,one", "-t", "n", ctx])
        #expect(both.status == 0, "\(both.stderr)")
        #expect(!CopyAddTests.cached(both.stderr, one), "\(both.stderr)")
        #expect(!CopyAddTests.cached(both.stderr, two), "\(both.stderr)")
        let none = try h.berth(["build", "--progress", "plain", "-t", "n", ctx])
        #expect(CopyAddTests.cached(none.stderr, one) && CopyAddTests.cached(none.stderr, two), "\(none.stderr)")
        let bad = try h.berth(["build", "--no-cache-filter", "one,", "-t", "n", ctx])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--no-cache-filter"), "\(bad.stderr)")
    }
}
