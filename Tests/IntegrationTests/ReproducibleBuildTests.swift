import Foundation
import Testing

/// The same inputs in two empty stores give the same image id (with SOURCE_DATE_EPOCH), and
/// `import --change` shapes the imported config as docker import does.
@Suite(.serialized) struct ReproducibleBuildTests {
    static let dockerfile = """
        FROM busybox-base
        RUN mkdir -p /out && echo built > /out/file && touch /out/now && ln -s file /out/link
        COPY data.txt /out/data.txt
        ENV MODE=release
        CMD ["cat", "/out/data.txt"]
        """

    @Test func sameDockerfileInTwoEmptyStoresGivesTheSameImageID() throws {
        var ids: [String] = []
        let environment = ["SOURCE_DATE_EPOCH": "1700000000"]
        for _ in 0..<2 {
            let h = try BerthHarness()
            defer { h.cleanup() }
            let tar = h.work + "/base.tar"
            #expect(
                try BerthHarness.run(
                    "/usr/bin/python3", [BerthHarness.packageRoot + "/Fixtures/base/make-rootfs.py", tar]
                )
                .status == 0)
            #expect(try h.berth(["import", tar, "busybox-base"], environment: environment).status == 0)
            let context = try h.context("app", ["Dockerfile": Self.dockerfile, "data.txt": "data\n"])
            let build = try h.berth(["build", "-q", "-t", "app", context], environment: environment)
            #expect(build.status == 0, "\(build.stderr)")
            let listed = try h.berth(["images", "-q", "--no-trunc"]).stdout.split(separator: "\n").map(String.init)
            #expect(listed.contains(build.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            ids.append(try h.imageID("app:latest"))
            let inspect = try h.berth(["inspect", "app"]).stdout

            #expect(inspect.contains("\"Created\" : \"2023-11-14T22:13:20Z\""), "\(inspect)")
            // The build arg form works too, and gives the same image.
            let again = try h.berth(["build", "-q", "--build-arg", "SOURCE_DATE_EPOCH=1700000000", context])
            #expect(again.stdout == build.stdout)
            #expect(!again.stderr.contains("not consumed"))
            Thread.sleep(forTimeInterval: 1.1)  // different wall-clock seconds between the stores
        }
        #expect(ids.count == 2 && !ids[0].isEmpty)
        #expect(ids[0] == ids[1])
    }

    @Test func badSourceDateEpochIsNamed() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        try h.importBase()
        let context = try h.context("app", ["Dockerfile": "FROM busybox-base\n"])
        let result = try h.berth(["build", "--build-arg", "SOURCE_DATE_EPOCH=yesterday", context])
        #expect(result.status == 1)
        #expect(result.stderr.contains("SOURCE_DATE_EPOCH 'yesterday'"), "\(result.stderr)")
    }

    @Test func importChangesApplyToTheConfig() throws {
        let h = try BerthHarness()
        defer { h.cleanup() }
        let tar = h.work + "/base.tar"
        #expect(
            try BerthHarness.run("/usr/bin/python3", [BerthHarness.packageRoot + "/Fixtures/base/make-rootfs.py", tar])
                .status == 0)
        let imported = try h.berth(
            [
                "import", "--change", "ENV GREETING=hi", "-c", #"CMD ["sh", "-c", "echo $GREETING from $(pwd)"]"#,
                "-c", "WORKDIR /srv", "-c", "EXPOSE 8080/udp", "-c", "USER 0:0", "-", "changed:1",
            ], stdin: try Data(contentsOf: URL(fileURLWithPath: tar)))
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try h.berth(["run", "--rm", "changed:1"]).stdout == "hi from /srv\n")
        let inspect = try h.berth(["inspect", "changed:1"]).stdout
        #expect(inspect.contains("8080/udp"))
        let refused = try h.berth(["import", "-c", "RUN true", tar])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("RUN is not supported"))
    }
}
