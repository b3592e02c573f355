import Foundation
import Testing

/// The same Dockerfile built by berth and by docker (BuildKit), compared as file system
/// listings: path, type, mode, owner, content digest or link target (and mtime when asked).
struct FileSystemListing {
    /// Lists `prefixes` (top-level paths) of a root file system tar.
    static let script = """
        import tarfile, sys, hashlib
        mtimes = sys.argv[2] == "mtime"
        prefixes = sys.argv[3:]
        t = tarfile.open(sys.argv[1])
        rows = []
        for m in t.getmembers():
            n = m.name
            while n.startswith('./'): n = n[2:]
            n = n.strip('/')
            if not any(n == p or n.startswith(p + '/') for p in prefixes): continue
            kind = 'd' if m.isdir() else 'l' if m.issym() else 'h' if m.islnk() else 'f' if m.isfile() else 'o'
            extra = ''
            if m.isfile(): extra = hashlib.sha256(t.extractfile(m).read()).hexdigest()[:16]
            if m.issym() or m.islnk(): extra = m.linkname
            row = f"{n} {kind} {oct(m.mode & 0o7777)} {m.uid}:{m.gid} {extra}"
            if mtimes and not m.isdir(): row += f" mtime={int(m.mtime)}"
            rows.append(row)
        print("\\n".join(sorted(rows)))
        """

    static func list(_ tar: String, prefixes: [String], mtimes: Bool = false, work: String) throws -> String {
        let scriptPath = work + "/list.py"
        try script.write(toFile: scriptPath, atomically: false, encoding: .utf8)
        let result = try BerthHarness.run(
            "/usr/bin/python3", [scriptPath, tar, mtimes ? "mtime" : "-"] + prefixes)
        #expect(result.status == 0, "list: \(result.stderr)")
        return result.stdout
    }

    /// Builds `context` with berth (FROM `$BASE` = the harness's busybox base) and lists `prefixes`.
    static func berth(
        _ h: BerthHarness, context: String, prefixes: [String], mtimes: Bool = false, extra: [String] = []
    ) throws -> String {
        let tag = "cmp-" + UUID().uuidString.prefix(8).lowercased()
        let build = try h.berth(["build", "-q", "--build-arg", "BASE=busybox-base", "-t", tag] + extra + [context])
        #expect(build.status == 0, "berth build: \(build.stderr)")
        let tar = h.work + "/\(tag).tar"
        #expect(try h.berth(["export", "-o", tar, tag]).status == 0)
        return try list(tar, prefixes: prefixes, mtimes: mtimes, work: h.work)
    }

    /// Builds `context` with docker (BuildKit) on the same busybox base and lists `prefixes`.
    /// Without docker's cache: BuildKit keys COPY by content, not mtime, so a cached layer from
    /// another test's identical file would carry that file's mtime.
    static func docker(
        _ h: BerthHarness, context: String, prefixes: [String], mtimes: Bool = false, extra: [String] = []
    ) throws -> String {
        let id = UUID().uuidString.prefix(8).lowercased()
        let base = "berth-cmp-base-\(id):1"
        let tag = "berth-cmp-\(id):1"
        let baseTar = h.work + "/base.tar"
        if !FileManager.default.fileExists(atPath: baseTar) {
            let made = try BerthHarness.run(
                "/usr/bin/python3", [BerthHarness.packageRoot + "/Fixtures/base/make-rootfs.py", baseTar])
            #expect(made.status == 0)
        }
        #expect(try BerthHarness.run("/usr/bin/docker", ["import", baseTar, base]).status == 0)
        defer { _ = try? BerthHarness.run("/usr/bin/docker", ["rmi", "-f", tag, base]) }
        let build = try BerthHarness.run(
            "/usr/bin/docker",
            ["build", "-q", "--no-cache", "--network", "none", "--build-arg", "BASE=\(base)", "-t", tag] + extra + [
                context
            ],
            environment: ["DOCKER_BUILDKIT": "1"])
        #expect(build.status == 0, "docker build: \(build.stderr)")
        let created = try BerthHarness.run("/usr/bin/docker", ["create", tag, "sh"])
        let container = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        defer { _ = try? BerthHarness.run("/usr/bin/docker", ["rm", "-f", container]) }
        let tar = h.work + "/docker-\(id).tar"
        #expect(try BerthHarness.run("/usr/bin/docker", ["export", "-o", tar, container]).status == 0)
        return try list(tar, prefixes: prefixes, mtimes: mtimes, work: h.work)
    }
}
