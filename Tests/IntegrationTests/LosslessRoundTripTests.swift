import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A tree with every kind of file survives import → save → load → export unchanged.
@Suite(.serialized) struct LosslessRoundTripTests {
    static let script = BerthHarness.packageRoot + "/Tests/IntegrationTests/Scripts/tree.py"

    /// One line per entry: raw name, type and mode, owner, mtime, links, size, content digest,
    /// device numbers, link target, xattrs (Scripts/tree.py).
    static func describe(_ root: String) throws -> [String] {
        let result = try BerthHarness.run("/usr/bin/python3", [script, "describe", root])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.split(separator: "\n").map(String.init)
    }

    @Test func everyKindOfFileSurvivesImportSaveLoadExport() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        let tree = h.work + "/tree"
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        let made = try BerthHarness.run("/usr/bin/python3", [Self.script, "make", tree])
        #expect(made.status == 0, "\(made.stderr)")
        // GNU tar makes the input: PAX, xattrs, sparse.
        let tar = try BerthHarness.run(
            "/usr/bin/tar",
            [
                "--format=pax", "--xattrs", "--xattrs-include=*", "--sparse", "--numeric-owner", "-C", tree, "-cf",
                h.work + "/in.tar", ".",
            ])
        #expect(tar.status == 0, "\(tar.stderr)")
        let imported = try h.berth(["import", h.work + "/in.tar", "tree:1"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try h.berth(["save", "-o", h.work + "/saved.tar", "tree:1"]).status == 0)

        let other = try BerthHarness()
        defer { other.cleanup() }
        let load = try other.berth(["load", "-i", h.work + "/saved.tar"])
        #expect(load.status == 0, "\(load.stderr)")
        #expect(try other.berth(["export", "-o", h.work + "/out.tar", "tree:1"]).status == 0)
        let out = h.work + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let untar = try BerthHarness.run(
            "/usr/bin/tar",
            ["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", h.work + "/out.tar", "-C", out])
        #expect(untar.status == 0, "\(untar.stderr)")

        let before = try Self.describe(tree)
        let after = try Self.describe(out)
        #expect(before.count >= 16)
        #expect(before == after)
        for (a, b) in zip(before, after) where a != b { Issue.record("\(a)\n  became\n\(b)") }
        // The sparse file stays sparse through berth's own export: far fewer blocks than bytes.
        var st = stat()
        #expect(lstat(out + "/sparse", &st) == 0)
        #expect(Int64(st.st_blocks) * 512 < 1 << 20, "sparse file has \(st.st_blocks) blocks")
    }
}
