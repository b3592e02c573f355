import Foundation
import Testing

/// `build --output`, `--iidfile`, `--metadata-file` and `--progress json|quiet`, checked with the
/// tools that read them (docker, skopeo, umoci, tar) and against `berth export`.
@Suite(.serialized) struct BuildOutputTests {
    static let dockerfile = """
        FROM busybox-base
        COPY app /app
        RUN mkdir -p /d && echo built > /d/f && ln -s f /d/s && chmod 4755 /d/f && rm /bin/arch
        CMD ["cat", "/d/f"]
        """

    func prepared() throws -> (BerthHarness, String) {
        let h = try BerthHarness()
        try h.importBase()
        let context = try h.context("out", ["Dockerfile": Self.dockerfile, "app/main.c": "int main(){}\n"])
        return (h, context)
    }

    /// `find` listing of a tree: path, type and mode, owner, size, link target.
    static func listing(_ directory: String) throws -> [String] {
        let result = try BerthHarness.run(
            "/usr/bin/find", [directory, "-mindepth", "1", "-printf", "%P %M %U:%G %s %l\n"])
        return result.stdout.split(separator: "\n").map(String.init).sorted()
    }

    func exportedTree(_ h: BerthHarness, _ image: String) throws -> [String] {
        let directory = h.work + "/exported-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        #expect(try h.berth(["export", "-o", directory + ".tar", image]).status == 0)
        #expect(try BerthHarness.run("/usr/bin/tar", ["-xpf", directory + ".tar", "-C", directory]).status == 0)
        return try Self.listing(directory)
    }

    @Test func tarAndLocalOutputsAreTheExportedTree() throws {
        let (h, context) = try prepared()
        defer { h.cleanup() }
        let local = h.work + "/local"
        let build = try h.berth([
            "build", "--progress", "plain", "-t", "app:1", "-o", "type=tar,dest=\(h.work)/fs.tar", "--output",
            "type=local,dest=\(local)", context,
        ])
        #expect(build.status == 0, "\(build.stderr)")
        let exported = try exportedTree(h, "app:1")
        #expect(exported.contains { $0.hasPrefix("d/f -rwsr-xr-x") }, "\(exported)")
        #expect(!exported.contains { $0.hasPrefix("bin/arch ") })
        #expect(try Self.listing(local) == exported, "type=local is the exported tree")
        let unpacked = h.work + "/fs"
        try FileManager.default.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
        #expect(try BerthHarness.run("/usr/bin/tar", ["-xpf", h.work + "/fs.tar", "-C", unpacked]).status == 0)
        #expect(try Self.listing(unpacked) == exported, "type=tar is the exported tree")
        let members = try BerthHarness.run("/usr/bin/tar", ["-tf", h.work + "/fs.tar"]).stdout
        #expect(!members.contains("manifest.json") && !members.contains("oci-layout"), "no image metadata")

        // `-o DIR` is local; `-o -` is a tar on standard output.
        let shorthand = h.work + "/short"
        #expect(try h.berth(["build", "-q", "-o", shorthand, context]).status == 0)
        #expect(try Self.listing(shorthand) == exported)
        let piped = try BerthHarness.run(
            "/bin/sh",
            [
                "-c",
                "'\(BerthHarness.binary)' --root '\(h.root)' build --progress plain -o - '\(context)' > '\(h.work)/piped.tar'",
            ])
        #expect(piped.status == 0, "\(piped.stderr)")
        let pipedDir = h.work + "/piped"
        try FileManager.default.createDirectory(atPath: pipedDir, withIntermediateDirectories: true)
        #expect(try BerthHarness.run("/usr/bin/tar", ["-xpf", h.work + "/piped.tar", "-C", pipedDir]).status == 0)
        #expect(try Self.listing(pipedDir) == exported)
        #expect(h.leakedMounts().isEmpty)
    }

    @Test func withoutTagsAnOutputBuildIsNotKeptButATaggedOneIs() throws {
        let (h, context) = try prepared()
        defer { h.cleanup() }
        let before = try h.berth(["images", "-q", "--no-trunc"]).stdout
        let build = try h.berth([
            "build", "--progress", "plain", "--iidfile", h.work + "/iid", "-o", h.work + "/o", context,
        ])
        #expect(build.status == 0, "\(build.stderr)")
        #expect(!build.stderr.contains("writing image"), "\(build.stderr)")
        #expect(try h.berth(["images", "-q", "--no-trunc"]).stdout == before, "the untagged result is not stored")
        let tagged = try h.berth(["build", "-q", "-t", "kept", "-o", h.work + "/o2", context])
        #expect(tagged.status == 0)
        let iid = try String(contentsOfFile: h.work + "/iid", encoding: .utf8)
        #expect(try h.imageID("kept") == iid, "same image, now stored under its tag")
        #expect(tagged.stdout == iid + "\n")
    }

    @Test func iidfileAndMetadataFile() throws {
        let (h, context) = try prepared()
        defer { h.cleanup() }
        let build = try h.berth([
            "build", "--progress", "plain", "-t", "app:1", "-t", "app:latest", "--iidfile", h.work + "/iid",
            "--metadata-file", h.work + "/meta.json", context,
        ])
        #expect(build.status == 0, "\(build.stderr)")
        let iid = try String(contentsOfFile: h.work + "/iid", encoding: .utf8)
        #expect(iid.hasPrefix("sha256:") && iid.count == 71)
        let ids = try h.berth(["images", "-q", "--no-trunc"]).stdout.split(separator: "\n").map(String.init)
        #expect(ids.contains(iid), "\(ids)")
        #expect(try h.imageID("app:1") == iid)
        let data = try Data(contentsOf: URL(fileURLWithPath: h.work + "/meta.json"))
        let meta = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(meta["containerimage.config.digest"] as? String == iid)
        #expect(meta["image.name"] as? String == "docker.io/library/app:1,docker.io/library/app:latest")
        let descriptor = try #require(meta["containerimage.descriptor"] as? [String: Any])
        let digest = try #require(meta["containerimage.digest"] as? String)
        #expect(descriptor["digest"] as? String == digest)
        #expect(descriptor["mediaType"] as? String == "application/vnd.oci.image.manifest.v1+json")
        // The digest and size are those of the manifest `save` writes for the image.
        #expect(try h.berth(["save", "-o", h.work + "/s.tar", "app:1"]).status == 0)
        let index = try BerthHarness.run("/usr/bin/tar", ["-xOf", h.work + "/s.tar", "index.json"]).stdout
        #expect(index.contains(digest), "\(index)")
        let blob = try BerthHarness.run(
            "/usr/bin/tar", ["-xOf", h.work + "/s.tar", "blobs/sha256/" + digest.dropFirst(7)]
        ).stdout
        #expect(descriptor["size"] as? Int == blob.utf8.count)
    }

    @Test func dockerOutputLoadsIntoDocker() throws {
        guard BerthHarness.dockerAvailable else {
            print("BuildOutputTests: docker part skipped (no docker daemon answers)")
            return
        }
        let (h, context) = try prepared()
        defer { h.cleanup() }
        let tag = "berth-output-\(UUID().uuidString.prefix(8).lowercased())"
        let build = try h.berth([
            "build", "-q", "-t", tag + ":1", "-t", tag + ":2", "-o", "type=docker,dest=\(h.work)/d.tar", context,
        ])
        #expect(build.status == 0, "\(build.stderr)")
        let load = try BerthHarness.run("/usr/bin/docker", ["load", "-i", h.work + "/d.tar"])
        defer { _ = try? BerthHarness.run("/usr/bin/docker", ["rmi", "-f", tag + ":1", tag + ":2"]) }
        #expect(load.status == 0, "docker load: \(load.stderr)")
        #expect(load.stdout.contains("\(tag):1") && load.stdout.contains("\(tag):2"), "\(load.stdout)")
        let run = try BerthHarness.run("/usr/bin/docker", ["run", "--rm", "--network", "none", tag + ":2"])
        #expect(run.stdout == "built\n", "docker run: \(run.stderr)")
        let id = try BerthHarness.run("/usr/bin/docker", ["image", "inspect", "-f", "{{.Id}}", tag + ":1"])
        #expect(
            id.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                == build.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func ociOutputReadsWithSkopeoAndUmoci() throws {
        let skopeo = ImageToolInteropTests.tool("skopeo")
        let umoci = ImageToolInteropTests.tool("umoci")
        if skopeo == nil || umoci == nil { print("BuildOutputTests: skopeo/umoci part skipped (not installed)") }
        let (h, context) = try prepared()
        defer { h.cleanup() }
        let build = try h.berth([
            "build", "-q", "-t", "app:1", "--metadata-file", h.work + "/meta.json", "--output",
            "type=oci,dest=\(h.work)/oci.tar", context,
        ])
        #expect(build.status == 0, "\(build.stderr)")
        let iid = build.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let meta = try String(contentsOfFile: h.work + "/meta.json", encoding: .utf8)
        if let skopeo {
            let inspect = try BerthHarness.run(skopeo, ["inspect", "oci-archive:\(h.work)/oci.tar:1"])
            #expect(inspect.status == 0, "skopeo: \(inspect.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
            let digest = try #require(object?["Digest"] as? String)
            #expect(meta.contains(digest), "--metadata-file names the manifest in the layout:\n\(meta)")
            let raw = try BerthHarness.run(skopeo, ["inspect", "--raw", "oci-archive:\(h.work)/oci.tar:1"]).stdout
            #expect(raw.contains("application/vnd.oci.image.layer.v1.tar+gzip"))
            #expect(raw.contains(iid), "the config (image id) is unchanged")
        }
        if let umoci {
            let layout = h.work + "/layout"
            try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: true)
            #expect(try BerthHarness.run("/usr/bin/tar", ["-xf", h.work + "/oci.tar", "-C", layout]).status == 0)
            let unpack = try BerthHarness.run(umoci, ["unpack", "--image", layout + ":1", h.work + "/bundle"])
            #expect(unpack.status == 0, "umoci unpack: \(unpack.stderr)")
            #expect(try Self.listing(h.work + "/bundle/rootfs") == exportedTree(h, "app:1"))
        }
    }

    @Test func badOutputsAndProgressValuesAreNamed() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        for (value, words) in [
            ("type=image,dest=x", "unsupported type 'image'"), ("type=oci", "dest=FILE"),
            ("type=tar,dest=x,compression=gzip", "unknown attribute 'compression'"), ("dest=x", "type=… is required"),
            ("type=local,dest=-", "type=local writes a directory"),
        ] {
            let result = try h.berth(["build", "-o", value, h.work])
            #expect(result.status == 2, "\(value)")
            #expect(result.stderr.contains("--output") && result.stderr.contains(words), "\(value): \(result.stderr)")
        }
        let progress = try h.berth(["build", "--progress", "rawjson", h.work])
        #expect(progress.status == 2 && progress.stderr.contains("--progress must be auto, tty, plain, json"))
        let quiet = try h.berth(["build", "-q", "-o", "-", h.work])
        #expect(quiet.status == 2 && quiet.stderr.contains("dest=-"), "\(quiet.stderr)")
    }

    @Test func jsonProgressIsOneObjectPerLineAndQuietPrintsOnlyTheID() throws {
        let (h, context) = try prepared()
        defer { h.cleanup() }
        let build = try h.berth(["build", "--progress", "json", "-t", "app:1", context])
        #expect(build.status == 0, "\(build.stderr)")
        var events: [[String: Any]] = []
        for line in build.stderr.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            events.append(try #require(object, "not a JSON object: \(line)"))
        }
        #expect(events.allSatisfy { ($0["time"] as? String)?.hasSuffix("Z") == true && $0["event"] is String })
        let run = events.filter { ($0["name"] as? String)?.contains("RUN mkdir") == true }
        #expect(run.map { $0["event"] as? String } == ["started", "done"], "\(run)")
        #expect(run.allSatisfy { $0["step"] as? Int == 3 })
        let image = try #require(events.last)
        #expect(image["event"] as? String == "image")
        #expect(image["id"] as? String == (try h.imageID("app:1")))
        #expect(build.stdout.isEmpty)

        // Output lines and failures are events too.
        let failing = try h.context("bad", ["Dockerfile": "FROM busybox-base\nRUN echo one && echo two && exit 5\n"])
        let failed = try h.berth(["build", "--progress", "json", failing])
        #expect(failed.status == 1)
        let lines = failed.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
        let objects = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.contains { $0?["event"] as? String == "output" && $0?["line"] as? String == "two" })
        #expect(
            objects.contains {
                $0?["event"] as? String == "error" && ($0?["message"] as? String)?.contains("exit code: 5") == true
            })

        for flags in [["-q"], ["--progress", "quiet"]] {
            let quiet = try h.berth(["build"] + flags + ["-t", "app:1", context])
            #expect(quiet.status == 0)
            #expect(quiet.stdout == (try h.imageID("app:1")) + "\n", "\(flags)")
            #expect(quiet.stderr.isEmpty, "\(flags): \(quiet.stderr)")
        }
    }
}
