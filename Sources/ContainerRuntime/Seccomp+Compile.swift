import CRuntimeShim
import CSeccomp
import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Compiles a seccomp profile to classic BPF with libseccomp, in the parent (the child only
/// loads the bytes), and caches the result on disk: compiling costs milliseconds per container.
enum SeccompCompiler {
    /// libseccomp's action encodings (the SCMP_ACT_* macros take arguments and do not import).
    static func action(_ name: String, errno: UInt32) throws(RuntimeError) -> UInt32 {
        switch name {
        case "SCMP_ACT_ALLOW": return 0x7fff_0000
        case "SCMP_ACT_ERRNO": return 0x0005_0000 | (errno & 0xffff)
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return 0x0000_0000
        case "SCMP_ACT_KILL_PROCESS": return 0x8000_0000
        case "SCMP_ACT_TRAP": return 0x0003_0000
        case "SCMP_ACT_TRACE": return 0x7ff0_0000 | (errno & 0xffff)
        case "SCMP_ACT_LOG": return 0x7ffc_0000
        default: throw .invalidSpec("unsupported seccomp action \(name)")
        }
    }

    static func comparison(_ op: String) throws(RuntimeError) -> scmp_compare {
        switch op {
        case "SCMP_CMP_NE": return SCMP_CMP_NE
        case "SCMP_CMP_LT": return SCMP_CMP_LT
        case "SCMP_CMP_LE": return SCMP_CMP_LE
        case "SCMP_CMP_EQ": return SCMP_CMP_EQ
        case "SCMP_CMP_GE": return SCMP_CMP_GE
        case "SCMP_CMP_GT": return SCMP_CMP_GT
        case "SCMP_CMP_MASKED_EQ": return SCMP_CMP_MASKED_EQ
        default: throw .invalidSpec("unsupported seccomp comparison \(op)")
        }
    }

    /// Go's architecture name and libseccomp's names for the native arch and its sub-arches.
    static var native: (go: String, seccomp: [String]) {
        #if arch(x86_64)
            ("amd64", ["x86_64", "x86", "x32"])
        #elseif arch(arm64)
            ("arm64", ["aarch64", "arm"])
        #else
            ("unknown", [])
        #endif
    }

    static func kernelVersion() -> (Int, Int) {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let parts = release.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        return (parts.first ?? 0, parts.count > 1 ? parts[1] : 0)
    }

    /// The BPF program (struct sock_filter array) for the profile whose text is `profileBytes`,
    /// given the bounding capability names, from the cache in `cacheDirectory` when present.
    /// The cache is keyed by the profile's bytes, so `profile` (decoding the JSON costs about a
    /// millisecond for Docker's profile) is only called on a miss.
    static func program(
        _ profile: () throws(RuntimeError) -> SeccompProfile, profileBytes: [UInt8], capabilities: Set<String>,
        cacheDirectory: String
    ) throws(RuntimeError) -> [UInt8] {
        let kernel = kernelVersion()
        var hasher = SHA256()
        hasher.update(data: profileBytes)
        hasher.update(
            data: Array((capabilities.sorted().joined(separator: ",") + "|\(native.go)|\(kernel.0).\(kernel.1)").utf8))
        let key = hexadecimal(hasher.finalize())
        let cached = cacheDirectory + "/" + key + ".bpf"
        if let program = readCached(cached) { return program }
        try? FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        let program = try compile(try profile(), capabilities: capabilities, kernel: kernel, scratch: cacheDirectory)
        try? FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        let temporary = cached + ".\(getpid()).tmp"
        if FileManager.default.createFile(atPath: temporary, contents: Data(program)) {
            rename(temporary, cached)
        }
        return program
    }

    /// Lower-case hex of a digest (no Foundation formatting on the start path).
    static func hexadecimal(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        for byte in digest {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A cached program: a non-empty whole number of 8-byte instructions, or nil.
    static func readCached(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > 0, st.st_size % 8 == 0, st.st_size <= 1 << 20 else { return nil }
        var program = [UInt8](repeating: 0, count: Int(st.st_size))
        let n = program.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return n == Int(st.st_size) ? program : nil
    }

    static func compile(
        _ profile: SeccompProfile, capabilities: Set<String>, kernel: (Int, Int), scratch: String
    ) throws(RuntimeError) -> [UInt8] {
        let defaultAction = try action(profile.defaultAction, errno: profile.defaultErrnoRet ?? 1)
        guard let context = seccomp_init(defaultAction) else {
            throw .system(operation: "seccomp_init", errno: ENOMEM)
        }
        defer { seccomp_release(context) }
        // Allow the filter to load without no_new_privs; berth sets that itself when asked.
        seccomp_attr_set(context, SCMP_FLTATR_CTL_NNP, 0)
        for name in native.seccomp.dropFirst() {
            let arch = seccomp_arch_resolve_name(name)
            if arch != 0 {
                let rc = seccomp_arch_add(context, arch)
                guard rc == 0 || rc == -EEXIST else { throw .system(operation: "seccomp_arch_add \(name)", errno: -rc) }
            }
        }
        for rule in profile.resolved(arch: native.go, capabilities: capabilities, kernel: kernel) {
            let ruleAction = try action(rule.action, errno: rule.errnoRet ?? profile.defaultErrnoRet ?? 1)
            if ruleAction == defaultAction { continue }
            let names = (rule.names ?? []) + (rule.name.map { [$0] } ?? [])
            var conditions: [scmp_arg_cmp] = []
            for argument in rule.args ?? [] {
                conditions.append(
                    scmp_arg_cmp(
                        arg: argument.index, op: try comparison(argument.op), datum_a: argument.value,
                        datum_b: argument.valueTwo ?? 0))
            }
            // libseccomp cannot AND two conditions on one argument: add one rule per condition then.
            let sameArgument = Set(conditions.map(\.arg)).count != conditions.count
            let groups = sameArgument ? conditions.map { [$0] } : [conditions]
            for name in names {
                let number = seccomp_syscall_resolve_name(name)
                if number < 0 { continue }  // not a system call on this architecture
                for group in groups {
                    let rc = group.withUnsafeBufferPointer { buffer in
                        seccomp_rule_add_array(context, ruleAction, number, UInt32(buffer.count), buffer.baseAddress)
                    }
                    guard rc == 0 || rc == -EEXIST else {
                        throw .system(operation: "seccomp rule for \(name)", errno: -rc)
                    }
                }
            }
        }
        // libseccomp writes the program to a descriptor: an unlinked scratch file.
        let path = scratch + "/.export-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(operation: "create \(path)", errno: errno) }
        unlink(path)
        defer { close(fd) }
        let rc = seccomp_export_bpf(context, fd)
        guard rc == 0 else { throw .system(operation: "seccomp_export_bpf", errno: -rc) }
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { throw .system(operation: "seccomp_export_bpf", errno: EIO) }
        var program = [UInt8](repeating: 0, count: Int(size))
        let n = program.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(0)) }
        guard n == Int(size) else { throw .system(operation: "read seccomp program", errno: errno) }
        return program
    }
}
