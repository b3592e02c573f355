import Foundation
import Testing

@testable import ImageStore

@Suite struct FileSystemTests {
    @Test func makeAndRemoveTreesWithoutFollowingSymlinks() throws {
        let base = NSTemporaryDirectory() + "berth-fs-" + UUID().uuidString
        let outside = base + "-outside"
        defer {
            try? FileSystem.removeTree(base)
            try? FileSystem.removeTree(outside)
        }
        try FileSystem.makeDirectory(base + "/a/b/c")
        try FileSystem.makeDirectory(outside)
        try FileSystem.writeAtomically([1], to: outside + "/keep", temporary: outside + "/tmp")
        #expect(symlink(outside, base + "/a/link") == 0)
        try FileSystem.removeTree(base)
        #expect(!FileSystem.exists(base))
        #expect(try FileSystem.read(outside + "/keep") == [1])
        try FileSystem.removeTree(base + "/never-existed")
    }

    @Test func concurrentRemovalRemovesWhatRemoveTreeRemoves() throws {
        let base = NSTemporaryDirectory() + "berth-fs-" + UUID().uuidString
        let outside = base + "-outside"
        defer {
            try? FileSystem.removeTree(base)
            try? FileSystem.removeTree(outside)
        }
        for directory in ["fs/etc/deep", "work/work/incompat", "root", "empty"] {
            try FileSystem.makeDirectory(base + "/" + directory)
        }
        try FileSystem.makeDirectory(outside)
        try FileSystem.writeAtomically([1], to: outside + "/keep", temporary: outside + "/tmp")
        try FileSystem.writeAtomically([2], to: base + "/fs/etc/hosts", temporary: base + "/fs/tmp")
        try FileSystem.writeAtomically([3], to: base + "/log.json", temporary: base + "/tmp")
        #expect(symlink(outside, base + "/fs/link") == 0)
        #expect(symlink(outside, base + "/top-link") == 0)
        // A name that is not UTF-8, at the top and below.
        let raw: [CChar] = [0x62, -0x01, 0x00]
        let top = Array((base + "/").utf8CString.dropLast()) + raw
        let below = Array((base + "/work/").utf8CString.dropLast()) + raw
        #expect(mkdir(top, 0o755) == 0)
        #expect(mkdir(below, 0o755) == 0)
        try FileSystem.removeTreeConcurrently(base)
        #expect(!FileSystem.exists(base))
        #expect(try FileSystem.read(outside + "/keep") == [1])
        try FileSystem.removeTreeConcurrently(base + "/never-existed")
    }

    @Test func errorsNameThePath() {
        #expect {
            try FileSystem.read("/nonexistent/berth/file")
        } throws: { error in
            "\(error)".contains("/nonexistent/berth/file")
        }
    }
}
