import Foundation
import Testing

/// `system prune`, `image prune`, `system df` and `system check` on real stores.
@Suite(.serialized) struct StoreMaintenanceTests {
    static let dockerfile = """
        FROM busybox-base
        RUN dd if=/dev/zero of=/big bs=1M count=3 2>/dev/null
        RUN echo two > /two
        CMD ["cat", "/two"]
        """

    func entries(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    @Test func pruneKeepsWhatImagesUseAndFreesTheRest() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let context = try h.context("app", ["Dockerfile": Self.dockerfile])
        #expect(try h.berth(["build", "-q", "-t", "app", context]).status == 0)
        let snapshotsWithApp = entries(h.root + "/snapshots")

        // The build cache goes, the image and its layers stay: it still runs.
        let prune = try h.berth(["system", "prune", "-f"])
        #expect(prune.status == 0, "\(prune.stderr)")
        #expect(prune.stdout.contains("Deleted build cache objects:"))
        #expect(prune.stdout.contains("Total reclaimed space:"))
        #expect(entries(h.root + "/snapshots") == snapshotsWithApp)
        #expect(try h.berth(["run", "--rm", "app"]).stdout == "two\n")
        let rebuild = try h.berth(["build", "--progress", "plain", "-t", "app", context])
        #expect(rebuild.status == 0)
        #expect(!rebuild.stderr.contains("CACHED"), "the cache records are gone, so the steps run again")

        // Without the image, its layers and snapshots are garbage; the base stays.
        // (The rebuild left the first image unnamed: prune removes it as well.)
        #expect(try h.berth(["rmi", "app"]).status == 0)
        #expect(try h.berth(["system", "df"]).stdout.contains("Images          2"))
        #expect(try h.berth(["system", "prune", "-f"]).status == 0)
        let df = try h.berth(["system", "df"])
        #expect(df.stdout.contains("Images          1"), "\(df.stdout)")
        #expect(entries(h.root + "/snapshots").filter { $0 != "empty" }.count == 1)
        #expect(try h.berth(["run", "--rm", "busybox-base", "true"]).status == 0)
        #expect(try h.berth(["system", "check"]).status == 0)

        // image prune -a removes the last image; a sweep then empties the store.
        let imagePrune = try h.berth(["image", "prune", "-a", "-f"])
        #expect(imagePrune.stdout.contains("untagged: busybox-base:latest"), "\(imagePrune.stdout)")
        #expect(try h.berth(["system", "prune", "-f"]).status == 0)
        #expect(entries(h.root + "/blobs/sha256").isEmpty)
        #expect(entries(h.root + "/snapshots").filter { $0 != "empty" }.isEmpty)
        #expect(entries(h.root + "/tmp").isEmpty)
        #expect(try h.berth(["system", "check"]).status == 0)
    }

    @Test func keepStorageKeepsRecentCacheWithinTheLimit() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let context = try h.context("app", ["Dockerfile": Self.dockerfile])
        #expect(try h.berth(["build", "-q", "-t", "app", context]).status == 0)
        #expect(try h.berth(["rmi", "app"]).status == 0)
        #expect(try h.berth(["system", "prune", "-f", "--keep-storage", "100MB"]).status == 0)
        let cached = try h.berth(["build", "--progress", "plain", "-t", "app", context])
        #expect(cached.stderr.components(separatedBy: "CACHED").count - 1 == 2, "\(cached.stderr)")
        #expect(try h.berth(["rmi", "app"]).status == 0)
        #expect(try h.berth(["system", "prune", "-f", "--keep-storage", "1MB"]).status == 0)
        let rebuilt = try h.berth(["build", "--progress", "plain", "-t", "app", context])
        #expect(!rebuilt.stderr.contains("CACHED"), "a 3 MB layer does not fit in 1 MB: \(rebuilt.stderr)")
        let bad = try h.berth(["system", "prune", "-f", "--keep-storage", "lots"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--keep-storage"))
    }

    @Test func pruneWaitsForARunningBuildButNotForContainers() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        // A running container holds nothing: its record protects what it uses.
        let container = try Spawned(
            BerthHarness.binary, ["--root", h.root, "run", "--rm", "busybox-base", "sleep", "3"])
        Thread.sleep(forTimeInterval: 0.5)
        let quick = try h.berth(["system", "prune", "-f"])
        #expect(!quick.stderr.contains("waiting"), "\(quick.stderr)")
        #expect(container.isRunning)
        // A build holds the store until it has recorded its image.
        let context = try h.context("slow", ["Dockerfile": "FROM busybox-base\nRUN sleep 2 && echo done > /done\n"])
        let build = try Spawned(BerthHarness.binary, ["--root", h.root, "build", "-q", "-t", "slow", context])
        Thread.sleep(forTimeInterval: 0.7)
        let prune = try h.berth(["system", "prune", "-f", "-a"])
        #expect(prune.stderr.contains("waiting for other berth processes"), "\(prune.stderr)")
        #expect(!build.isRunning, "prune ran only after the build had finished")
        #expect(build.wait() == 0)
        #expect(container.wait() == 0)
        #expect(try h.berth(["system", "check"]).status == 0)
    }

    /// A build records its layer blobs without writing them; `save` writes them from their
    /// snapshots (the archive loads into another store and runs), a snapshot changed behind
    /// berth's back is refused by digest, and a prune drops the records with their image.
    @Test func buildLayersAreWrittenWhenFirstRead() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let context = try h.context("app", ["Dockerfile": Self.dockerfile])
        #expect(try h.berth(["build", "-q", "-t", "app", context]).status == 0)
        let layers = try h.layers(of: "app")
        #expect(layers.count == 3)
        let built = layers.dropFirst().map { String($0.dropFirst("sha256:".count)) }
        #expect(built.allSatisfy { !entries(h.root + "/blobs/sha256").contains($0) }, "written at build time")
        #expect(try h.berth(["system", "check"]).status == 0)

        // The build cache goes; the image keeps its snapshots, so its layers can still be written.
        #expect(try h.berth(["system", "prune", "-f"]).status == 0)
        #expect(try h.berth(["system", "check"]).status == 0)
        #expect(try h.berth(["save", "-o", h.work + "/app.tar", "app"]).status == 0)
        #expect(built.allSatisfy { entries(h.root + "/blobs/sha256").contains($0) }, "not written by save")
        let other = try BerthHarness()
        defer { other.cleanup() }
        #expect(try other.berth(["load", "-i", h.work + "/app.tar"]).status == 0)
        #expect(try other.berth(["run", "--rm", "app"]).stdout == "two\n")
        #expect(try h.berth(["system", "check"]).status == 0)

        // A second image whose layer is not written yet, and its snapshot changed by hand.
        let changed = try h.context("changed", ["Dockerfile": "FROM busybox-base\nRUN echo original > /f\n"])
        #expect(try h.berth(["build", "-q", "-t", "changed", changed]).status == 0)
        let snapshot = try #require(
            entries(h.root + "/snapshots").first {
                FileManager.default.fileExists(atPath: h.root + "/snapshots/\($0)/fs/f")
            })
        try "tampered\n".write(toFile: h.root + "/snapshots/\(snapshot)/fs/f", atomically: false, encoding: .utf8)
        let refused = try h.berth(["save", "-o", h.work + "/changed.tar", "changed"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("its files were changed"), "\(refused.stderr)")

        // Gone with their images: no record of an unwritten blob stays behind.
        #expect(try h.berth(["rmi", "app", "changed"]).status == 0)
        #expect(try h.berth(["system", "prune", "-a", "-f"]).status == 0)
        #expect(try h.berth(["system", "check"]).status == 0)
        let rows = try BerthHarness.run(
            "/usr/bin/python3",
            [
                "-c",
                "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from blobs where recipe is not null').fetchone()[0])",
                h.root + "/berth.db",
            ])
        #expect(rows.stdout == "0\n", "\(rows.stdout)\(rows.stderr)")
    }

    @Test func checkReportsDamageAndRepairsOnlyWhatNothingUses() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        #expect(try h.berth(["system", "check"]).status == 0)
        let inspect = try h.berth(["inspect", "busybox-base"])
        let layer = try #require(
            inspect.stdout.range(of: #"sha256:[0-9a-f]{64}"#, options: .regularExpression).map {
                String(inspect.stdout[$0])
            })
        // Damage: an orphan snapshot directory, an unrecorded blob file, a leftover temporary
        // file, a stray mount, and a corrupted blob that an image uses.
        try FileManager.default.createDirectory(
            atPath: h.root + "/snapshots/9999/fs", withIntermediateDirectories: true)
        try Data("junk".utf8).write(
            to: URL(fileURLWithPath: h.root + "/blobs/sha256/" + String(repeating: "ab", count: 32)))
        try Data("tmp".utf8).write(to: URL(fileURLWithPath: h.root + "/tmp/leftover"))
        let mountPoint = h.root + "/snapshots/9999/fs"
        #expect(mount("tmpfs", mountPoint, "tmpfs", 0, nil) == 0)
        defer { umount2(mountPoint, Int32(MNT_DETACH)) }
        let blobs = entries(h.root + "/blobs/sha256").filter { $0 != String(repeating: "ab", count: 32) }
        let victim = try #require(blobs.first { "sha256:" + $0 == layer } ?? blobs.first)
        let handle = try #require(FileHandle(forWritingAtPath: h.root + "/blobs/sha256/" + victim))
        handle.seekToEndOfFile()
        handle.write(Data("x".utf8))
        handle.closeFile()

        let check = try h.berth(["system", "check"])
        #expect(check.status == 1)
        #expect(check.stdout.contains("snapshot directory \(h.root)/snapshots/9999 has no record"), "\(check.stdout)")
        #expect(check.stdout.contains("has no record"))
        #expect(check.stdout.contains("leftover temporary file"))
        #expect(check.stdout.contains("stray mount at \(mountPoint)"))
        #expect(check.stdout.contains("not repairable: blob sha256:\(victim)"))
        #expect(check.stderr.contains("repairable with --repair"))

        let repair = try h.berth(["system", "check", "--repair"])
        #expect(repair.status == 1, "the corrupted blob is in use, so it stays and is still reported")
        #expect(repair.stdout.contains("repaired: snapshot directory"))
        #expect(!FileManager.default.fileExists(atPath: h.root + "/snapshots/9999"))
        #expect(!FileManager.default.fileExists(atPath: h.root + "/tmp/leftover"))
        #expect(FileManager.default.fileExists(atPath: h.root + "/blobs/sha256/" + victim))

        // Undo the corruption: the store is whole again.
        let path = h.root + "/blobs/sha256/" + victim
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(truncate(path, off_t(size - 1)) == 0)
        let again = try h.berth(["system", "check"])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
    }
}

/// Several berth processes on one store at once.
@Suite(.serialized) struct SharedStoreTests {
    @Test func concurrentBuildsAndAPruneLeaveAConsistentStore() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        var processes: [Spawned] = []
        for index in 0..<4 {
            let context = try h.context(
                "app\(index)",
                [
                    "Dockerfile": """
                    FROM busybox-base
                    RUN echo \(index) > /index && dd if=/dev/urandom of=/noise bs=64k count=8 2>/dev/null
                    COPY . /ctx
                    """,
                    "file": "\(index)\n",
                ])
            let process = try Spawned(
                BerthHarness.binary, ["--root", h.root, "build", "-q", "-t", "app\(index)", context])
            processes.append(process)
        }
        let prune = try Spawned(BerthHarness.binary, ["--root", h.root, "system", "prune", "-f"])
        for process in processes + [prune] {
            #expect(process.wait() == 0)
        }
        for index in 0..<4 {
            #expect(try h.berth(["run", "--rm", "app\(index)", "cat", "/index"]).stdout == "\(index)\n")
        }
        let check = try h.berth(["system", "check"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(h.leakedMounts().isEmpty)
    }
}
