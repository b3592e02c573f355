import Foundation
import Testing

/// Names survive what happens to their image elsewhere.
@Suite(.serialized) struct ImageNamesTests {
    @Test func aCachedRebuildUnderANewNameKeepsTheOldName() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let context = try h.context("app", ["Dockerfile": "FROM busybox-base\nRUN echo hi > /x\n"])
        let first = try h.berth(["build", "-q", "-t", "a", context])
        let second = try h.berth(["build", "-q", "-t", "b", context])
        #expect(first.status == 0 && second.status == 0, "\(first.stderr)\(second.stderr)")
        #expect(first.stdout == second.stdout, "the second build is the same image, from the cache")
        #expect(try h.imageID("a:latest") == (try h.imageID("b:latest")))
        #expect(!(try h.imageID("a:latest")).isEmpty, "a is still there")
        // rmi of one name leaves the image to the other.
        #expect(try h.berth(["rmi", "a"]).stdout == "Untagged: a:latest\n")
        #expect(try h.berth(["run", "--rm", "b", "cat", "/x"]).stdout == "hi\n")
        #expect(try h.berth(["system", "check"]).status == 0)
    }
}
