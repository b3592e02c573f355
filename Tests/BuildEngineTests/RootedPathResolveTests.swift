import ContainerRuntime
import Foundation
import Testing

@testable import BuildEngine

@Suite struct RootedPathResolveTests {
    @Test func symlinksNeverLeaveTheRoot() throws {
        let root = NSTemporaryDirectory() + "berth-rooted-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        #expect(symlink("/etc", root + "/abs") == 0)  // absolute: restarts at the root
        #expect(symlink("../../../../..", root + "/up") == 0)  // climbs: stops at the root
        #expect(symlink("loop", root + "/loop") == 0)
        #expect(try RootedPath.resolve("/abs/passwd", in: root) == root + "/etc/passwd")
        #expect(try RootedPath.resolve("/up/etc", in: root) == root + "/etc")
        #expect(try RootedPath.resolve("/abs", in: root, followFinal: false) == root + "/abs")
        #expect(throws: RootedPath.TooManyLinks.self) { try RootedPath.resolve("/loop/x", in: root) }
        #expect(try RootedPath.resolve("/missing/a/b", in: root) == root + "/missing/a/b")
    }

    /// A combining mark after a slash joins it in one Swift Character, which hid the separator
    /// (and a `..` before it) from Character-based splitting while the kernel still walked it:
    /// `COPY ../\u{301}x` read a file beside the build context. Paths split at every `/` byte,
    /// as Go's path.Clean does, so the `..` is lexical and stays inside.
    @Test func combiningMarksDoNotHideSlashesOrDotDot() throws {
        let mark = "\u{301}"
        #expect(RootedPath.clean("../" + mark + "x") == "/" + mark + "x")
        #expect(RootedPath.clean("a/../" + mark + "b/./c") == "/" + mark + "b/c")
        #expect(RootedPath.clean("/" + mark + "..") == "/" + mark + "..")  // a name, not ".."
        let root = NSTemporaryDirectory() + "berth-rooted-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/d", withIntermediateDirectories: true)
        #expect(try RootedPath.resolve("/../" + mark + "x", in: root) == root + "/" + mark + "x")
        #expect(try RootedPath.resolve("../../" + mark + "x/y", in: root) == root + "/" + mark + "x/y")
        // A link whose target starts with a slash and a mark restarts at the root.
        #expect(symlink("/" + mark + "t", root + "/d/abs") == 0)
        #expect(symlink("../../" + mark + "u", root + "/d/up") == 0)
        #expect(try RootedPath.resolve("/d/abs", in: root) == root + "/" + mark + "t")
        #expect(try RootedPath.resolve("/d/up", in: root) == root + "/" + mark + "u")
        #expect("/" + mark + "x" != "/x" && ("/" + mark + "x").startsWithSlash)
        #expect(("d/" + mark + "x").slashComponents() == ["d", mark + "x"])
        #expect(("/r/" + mark + "x").relativePath(under: "/r") == mark + "x")
        #expect(("/r" + mark + "/x").relativePath(under: "/r") == nil)
    }
}
