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

    @Test func errorsNameThePath() {
        #expect {
            try FileSystem.read("/nonexistent/berth/file")
        } throws: { error in
            "\(error)".contains("/nonexistent/berth/file")
        }
    }
}
