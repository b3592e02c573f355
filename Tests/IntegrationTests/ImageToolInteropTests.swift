import Foundation
import Testing

/// berth's archives read by skopeo and umoci: each part skips, saying so, when the tool is missing.
@Suite(.serialized) struct ImageToolInteropTests {
    static let dockerfile = """
        FROM busybox-base
        RUN mkdir -p /d/old /keep && echo a > /d/f && ln /d/f /d/h && ln -s f /d/s && echo k > /keep/k \\
            && mknod /keep/fifo p && chmod 4755 /keep/k && rm /bin/arch
        RUN rm -rf /d && mkdir /d && echo new > /d/n && rm /keep/fifo
        CMD ["cat", "/d/n"]
        """

    static func tool(_ name: String) -> String? {
        ["/usr/bin/", "/usr/sbin/", "/usr/local/bin/"].map { $0 + name }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// `find` listing of a tree: path, type and mode, owner, size, link target, file mtime.
    static func listing(_ directory: String) throws -> [String] {
        let result = try BerthHarness.run(
            "/usr/bin/find", [directory, "-mindepth", "1", "-printf", "%P %M %U:%G %s %l %n\n"])
        return result.stdout.split(separator: "\n").map(String.init).sorted()
    }

    @Test func skopeoReadsBothArchiveFormats() throws {
        guard let skopeo = Self.tool("skopeo") else {
            print("ImageToolInteropTests: skopeo part skipped (apt-get install skopeo)")
            return
        }
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let context = try h.context("app", ["Dockerfile": Self.dockerfile])
        #expect(try h.berth(["build", "-q", "-t", "app:1", context]).status == 0)
        let id = try h.imageID("app:1")
        #expect(try h.berth(["save", "-o", h.work + "/docker.tar", "app:1"]).status == 0)
        #expect(try h.berth(["save", "--format", "oci", "-o", h.work + "/oci.tar", "app:1"]).status == 0)
        #expect(
            try h.berth(["save", "--format", "oci", "--compression", "zstd", "-o", h.work + "/zstd.tar", "app:1"])
                .status
                == 0)
        for source in [
            "docker-archive:\(h.work)/docker.tar", "oci-archive:\(h.work)/oci.tar:1",
            "oci-archive:\(h.work)/zstd.tar:1",
        ] {
            let inspect = try BerthHarness.run(skopeo, ["inspect", "--config", source])
            #expect(inspect.status == 0, "skopeo inspect \(source): \(inspect.stderr)")
            #expect(inspect.stdout.contains("\"cat\""), "\(source): \(inspect.stdout)")
            // The config is byte-identical in every format: the image id survives.
            let raw = try BerthHarness.run(skopeo, ["inspect", "--raw", "--config", source])
            let digest = "sha256:" + Self.sha256(Data(raw.stdout.utf8))
            #expect(digest == id, "\(source)")
        }
        let manifest = try BerthHarness.run(skopeo, ["inspect", "--raw", "oci-archive:\(h.work)/oci.tar:1"])
        #expect(manifest.stdout.contains("application/vnd.oci.image.layer.v1.tar+gzip"))
    }

    @Test func umociUnpackGivesTheTreeBerthExports() throws {
        guard let umoci = Self.tool("umoci") else {
            print("ImageToolInteropTests: umoci part skipped (apt-get install umoci)")
            return
        }
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let context = try h.context("app", ["Dockerfile": Self.dockerfile])
        #expect(try h.berth(["build", "-q", "-t", "app:1", context]).status == 0)
        #expect(try h.berth(["save", "--format", "oci", "-o", h.work + "/oci.tar", "app:1"]).status == 0)
        let layout = h.work + "/layout"
        let exported = h.work + "/exported"
        for directory in [layout, exported] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        #expect(try BerthHarness.run("/usr/bin/tar", ["-xf", h.work + "/oci.tar", "-C", layout]).status == 0)
        let unpack = try BerthHarness.run(umoci, ["unpack", "--image", layout + ":1", h.work + "/bundle"])
        #expect(unpack.status == 0, "umoci unpack: \(unpack.stderr)")
        #expect(try h.berth(["export", "-o", h.work + "/export.tar", "app:1"]).status == 0)
        #expect(try BerthHarness.run("/usr/bin/tar", ["-xpf", h.work + "/export.tar", "-C", exported]).status == 0)
        let fromUmoci = try Self.listing(h.work + "/bundle/rootfs")
        let fromBerth = try Self.listing(exported)
        #expect(fromUmoci == fromBerth)
        #expect(fromBerth.contains { $0.hasPrefix("d/n ") })
        #expect(!fromBerth.contains { $0.hasPrefix("d/f ") || $0.hasPrefix("bin/arch ") || $0.hasPrefix("keep/fifo ") })
        #expect(fromBerth.contains { $0.hasPrefix("keep/k -rwsr-xr-x") })
        #expect(
            try BerthHarness.run("/usr/bin/diff", ["-r", "--no-dereference", h.work + "/bundle/rootfs", exported])
                .status == 0)
    }

    static func sha256(_ data: Data) -> String {
        let result = try? BerthHarness.run("/usr/bin/sha256sum", ["-"], stdin: data)
        return String(result?.stdout.prefix(64) ?? "")
    }
}
