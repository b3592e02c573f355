import ContainerRuntime
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The cgroup v2 device allow-list (a BPF_PROG_TYPE_CGROUP_DEVICE program).
@Suite struct DeviceFilterTests {
    @Test func rulesParseLikeDevicesAllow() throws {
        #expect(
            DeviceRule(parsing: "c 1:3 rwm") == DeviceRule(kind: .char, major: 1, minor: 3, access: "rwm", allow: true))
        #expect(
            DeviceRule(parsing: "b *:* m") == DeviceRule(kind: .block, major: nil, minor: nil, access: "m", allow: true)
        )
        #expect(
            DeviceRule(parsing: "c 136:* rw")
                == DeviceRule(kind: .char, major: 136, minor: nil, access: "rw", allow: true))
        #expect(DeviceRule(parsing: "a")?.kind == .all)
        for bad in ["x 1:3 rwm", "c 1 rwm", "c 1:3 rwx", "c a:3 r", "c 1:3"] {
            #expect(DeviceRule(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func programShape() {
        // Prologue (6), one rule with every condition (type, access: 3, major, minor = 6, verdict 2),
        // the default verdict (2).
        let filter = DeviceFilter(rules: [DeviceRule(kind: .char, major: 1, minor: 3, access: "r", allow: true)])
        #expect(filter.instructions.count == 6 + 6 + 2 + 2)
        // The last instruction is `exit`, the one before `r0 = 0` (deny what no rule matched).
        #expect(filter.instructions.last == 0x95)
        #expect(filter.instructions[filter.instructions.count - 2] == 0xb7)
        // Every jump of the rule lands on the default verdict (index 14).
        var jumps = 0
        for index in 6..<12 where filter.instructions[index] & 0xff == 0x55 {
            let offset = Int(Int16(truncatingIfNeeded: filter.instructions[index] >> 16))
            #expect(index + 1 + offset == 14, "jump at \(index) lands at \(index + 1 + offset)")
            jumps += 1
        }
        #expect(jumps == 4)
    }

    /// Loads the program into the kernel, attaches it to a fresh cgroup on the unified hierarchy
    /// (pure v2 or the hybrid layout's), and checks what a process inside may open.
    @Test func kernelEnforcesTheAllowList() throws {
        guard let unified = Self.unifiedHierarchy() else {
            print("DeviceFilterTests: skipped (no cgroup v2 hierarchy mounted)")
            return
        }
        let cgroup = unified + "/berth-devtest-\(getpid())"
        let nodes = NSTemporaryDirectory() + "berth-devtest-\(getpid())"
        try FileManager.default.createDirectory(atPath: cgroup, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: nodes, withIntermediateDirectories: true)
        defer {
            rmdir(cgroup)
            try? FileManager.default.removeItem(atPath: nodes)
        }
        let rules =
            [DeviceRule(kind: .all, major: nil, minor: nil, access: "rwm", allow: false)]
            + ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 r"].compactMap { DeviceRule(parsing: $0) }
        try DeviceFilter(rules: rules).attach(to: cgroup)
        // Inside the cgroup: mknod of a disk is allowed (docker's `b *:* m`), opening it is not;
        // /dev/null reads and writes; /dev/zero only reads; /dev/full not at all.
        let script = """
            echo $$ > \(cgroup)/cgroup.procs || exit 99
            cd \(nodes)
            mknod disk b 7 0 && echo mknod-ok
            head -c 1 disk > /dev/null 2>&1 && echo disk-opened || echo disk-denied
            echo x > /dev/null && echo null-ok
            head -c 1 /dev/zero > /dev/null && echo zero-read-ok
            echo x 2>/dev/null > /dev/zero && echo zero-written || echo zero-write-denied
            head -c 1 /dev/full > /dev/null 2>&1 && echo full-opened || echo full-denied
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(
            output.split(separator: "\n") == [
                "mknod-ok", "disk-denied", "null-ok", "zero-read-ok", "zero-write-denied", "full-denied",
            ], "\(output)")
    }

    static func unifiedHierarchy() -> String? {
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count > 2, fields[2] == "cgroup2" { return String(fields[1]) }
        }
        return nil
    }
}
