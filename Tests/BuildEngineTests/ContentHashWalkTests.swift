import DockerfileSyntax
import Foundation
import Testing

@testable import BuildEngine

/// The content hash walks directories while the next one is already being listed and stat'ed on
/// another thread; what it hashes must be exactly the selection, as if the excluded files were
/// not there, in any directory size and with or without the stat cache.
@Suite struct ContentHashWalkTests {
    final class Scratch {
        let base = NSTemporaryDirectory() + "berth-hash-" + UUID().uuidString.prefix(8).lowercased()
        deinit { try? FileManager.default.removeItem(atPath: base) }

        func write(_ path: String, _ text: String) throws {
            let url = URL(fileURLWithPath: base + "/" + path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
    }

    /// Directories big enough to be stat'ed in several chunks, nested, between excluded ones.
    func makeTree(_ scratch: Scratch, root: String, withExcluded: Bool) throws {
        for directory in ["a", "b", "c", "d"] {
            for file in 0..<150 {
                try scratch.write("\(root)/src/\(directory)/f\(file)", "\(directory) \(file)\n")
            }
            try scratch.write("\(root)/src/\(directory)/inner/deep/x", "deep \(directory)\n")
        }
        try scratch.write("\(root)/src/partly/keep.txt", "kept\n")
        if withExcluded {
            for file in 0..<200 { try scratch.write("\(root)/src/skip/f\(file)", "skipped \(file)\n") }
            try scratch.write("\(root)/src/partly/drop.txt", "dropped\n")
            try scratch.write("\(root)/src/partly/sub/drop.txt", "dropped\n")
        }
    }

    func hash(
        _ scratch: Scratch, root: String, ignore: [String], cache: ContentHash.StatCache? = nil,
        entries: ContentHash.EntryList? = nil
    ) throws -> String {
        let host = scratch.base + "/" + root
        var st = stat()
        #expect(lstat(host + "/src", &st) == 0)
        let source = SelectedSource(relativePath: "src", hostPath: host + "/src", status: st)
        let matcher = ignore.isEmpty ? nil : try IgnoreMatcher(patterns: ignore)
        let sourceRoot = SourceRoot(hostPath: host, ignore: matcher, label: "build context")
        return try ContentHash.of([source], in: sourceRoot, cache: cache, entries: entries)
    }

    @Test func theHashIsThatOfTheSelectionAlone() throws {
        let scratch = Scratch()
        try makeTree(scratch, root: "full", withExcluded: true)
        try makeTree(scratch, root: "pruned", withExcluded: false)
        let ignore = ["src/skip", "src/partly", "!src/partly/keep.txt"]
        let entries = ContentHash.EntryList(limit: 10_000)
        let selected = try hash(scratch, root: "full", ignore: ignore, entries: entries)
        #expect(selected == (try hash(scratch, root: "pruned", ignore: [])))
        #expect(selected != (try hash(scratch, root: "full", ignore: [])))
        let paths = Set(entries.dictionary()?.keys.map { $0 } ?? [])
        #expect(paths.contains("src/partly/keep.txt") && paths.contains("src/d/inner/deep/x"))
        #expect(!paths.contains { $0.hasPrefix("src/skip") || $0.hasSuffix("drop.txt") })
        #expect(paths.count == 4 * (1 + 150 + 3) + 3)  // each directory, its files, inner, deep, x; src, partly, keep
    }

    @Test func theStatCacheGivesTheSameHash() throws {
        let scratch = Scratch()
        try makeTree(scratch, root: "tree", withExcluded: true)
        let ignore = ["src/skip"]
        let first = ContentHash.StatCache(known: [:])
        let fresh = try hash(scratch, root: "tree", ignore: ignore, cache: first)
        #expect(!first.learned.isEmpty)
        let second = ContentHash.StatCache(known: first.learned)
        #expect(try hash(scratch, root: "tree", ignore: ignore, cache: second) == fresh)
        #expect(second.learned.isEmpty, "nothing changed, so no directory's records were rewritten")
        // A changed file changes the hash even when the cache knows its directory.
        try scratch.write("tree/src/c/f7", "changed\n")
        #expect(try hash(scratch, root: "tree", ignore: ignore, cache: second) != fresh)
    }
}
