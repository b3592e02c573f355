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
}
