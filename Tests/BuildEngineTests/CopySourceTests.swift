import Foundation
import Testing

@testable import BuildEngine

@Suite struct CopySourceTests {
    @Test func parentsKeepThePathAfterThePivot() {
        #expect(StageBuilder.keptPath("x/y/file", source: "x/y/file") == "x/y/file")
        #expect(StageBuilder.keptPath("x/y/file", source: "./x/./y/file") == "y/file")
        #expect(StageBuilder.keptPath("x/y/file", source: "x/./y/file") == "y/file")
        #expect(StageBuilder.keptPath("a/b/c/z", source: "a/b/./*/z") == "c/z")
        #expect(StageBuilder.keptPath("x/y", source: "./x/y") == "x/y")
    }

    @Test func urlFileNamesAndDates() throws {
        #expect(RemoteSource.fileName(of: try #require(URL(string: "http://h/a/b.tar.gz?x=1"))) == "b.tar.gz")
        #expect(RemoteSource.fileName(of: try #require(URL(string: "http://h/"))) == "__unnamed__")
        #expect(RemoteSource.fileName(of: try #require(URL(string: "http://h/a/.."))) == "__unnamed__")
        let date = RemoteSource.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(date?.timeIntervalSince1970 == 784_111_777)
        #expect(RemoteSource.parseHTTPDate("yesterday") == nil)
    }

    @Test func numericUsersAreUidUidAndUnknownNamesFallBack() throws {
        let root = NSTemporaryDirectory() + "berth-userdb-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try "root:x:0:0::/:/bin/sh\napp:x:1234:2345::/:/bin/sh\n".write(
            toFile: root + "/etc/passwd", atomically: false, encoding: .utf8)
        try "root:x:0:\ngrp:x:3456:\n".write(toFile: root + "/etc/group", atomically: false, encoding: .utf8)
        #expect(try UserDatabase.resolve("1234", in: root) == (1234, 1234))
        #expect(try UserDatabase.resolve("app", in: root) == (1234, 2345))
        #expect(try UserDatabase.resolve("app:grp", in: root) == (1234, 3456))
        #expect(try UserDatabase.resolve("app:7", in: root) == (1234, 7))
        #expect(try UserDatabase.resolve("nobody", in: root) == (0, 0))
        #expect(try UserDatabase.resolve("app:nogroup", in: root) == (1234, 2345))
    }
}
