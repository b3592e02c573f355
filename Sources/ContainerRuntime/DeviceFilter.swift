import CRuntimeShim
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One rule of a device allow-list, in the syntax of cgroup v1's `devices.allow`
/// (`c 1:3 rwm`, `b *:* m`, `a`).
public struct DeviceRule: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case all = "a"
        case char = "c"
        case block = "b"
    }
    public var kind: Kind
    /// nil matches every major (`*`).
    public var major: Int64?
    /// nil matches every minor (`*`).
    public var minor: Int64?
    /// Any of `r` (read), `w` (write), `m` (mknod).
    public var access: String
    public var allow: Bool

    public init(kind: Kind, major: Int64?, minor: Int64?, access: String, allow: Bool) {
        self.kind = kind
        self.major = major
        self.minor = minor
        self.access = access
        self.allow = allow
    }

    /// Parses the v1 `devices.allow` syntax; nil when `text` is not a rule.
    public init?(parsing text: String, allow: Bool = true) {
        let fields = text.split(separator: " ")
        guard let first = fields.first, let kind = Kind(rawValue: String(first)) else { return nil }
        self.kind = kind
        self.allow = allow
        if kind == .all {
            major = nil
            minor = nil
            access = "rwm"
            return
        }
        guard fields.count == 3 else { return nil }
        let numbers = fields[1].split(separator: ":", omittingEmptySubsequences: false)
        guard numbers.count == 2 else { return nil }
        func number(_ text: Substring) -> Int64?? { text == "*" ? .some(nil) : Int64(text).map { .some($0) } }
        guard let major = number(numbers[0]), let minor = number(numbers[1]),
            !fields[2].isEmpty, fields[2].allSatisfy({ "rwm".contains($0) })
        else { return nil }
        self.major = major
        self.minor = minor
        access = String(fields[2])
    }
}

/// A device allow-list compiled to an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE` and
/// attached to a cgroup v2 directory: on the unified hierarchy there is no `devices.allow`, the
/// kernel asks the cgroup's device programs instead (what runc's devicefilter does).
///
/// The program reads `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
/// (`access_type` is `access << 16 | type`), tries the rules from the last to the first (a later
/// rule overrides an earlier one, as successive writes to `devices.allow`/`devices.deny` do) and
/// denies what no rule matches.
public struct DeviceFilter: Sendable, Equatable {
    /// Instructions, 8 bytes each, in the kernel's `struct bpf_insn` layout.
    public private(set) var instructions: [UInt64] = []

    public init(rules: [DeviceRule]) {
        // r2 = type, r3 = requested access, r4 = major, r5 = minor.
        emit(0x61, dst: 2, src: 1, offset: 0, immediate: 0)  // r2 = *(u32 *)(r1 + 0)
        emit(0x54, dst: 2, immediate: 0xffff)  // w2 &= 0xffff
        emit(0x61, dst: 3, src: 1, offset: 0, immediate: 0)  // r3 = *(u32 *)(r1 + 0)
        emit(0x74, dst: 3, immediate: 16)  // w3 >>= 16
        emit(0x61, dst: 4, src: 1, offset: 4, immediate: 0)  // r4 = *(u32 *)(r1 + 4)
        emit(0x61, dst: 5, src: 1, offset: 8, immediate: 0)  // r5 = *(u32 *)(r1 + 8)
        for rule in rules.reversed() {
            var block: [(code: UInt8, dst: UInt8, src: UInt8, immediate: Int32)] = []
            switch rule.kind {
            case .all: break
            case .char: block.append((0x55, 2, 0, 2))  // if r2 != BPF_DEVCG_DEV_CHAR goto next
            case .block: block.append((0x55, 2, 0, 1))  // if r2 != BPF_DEVCG_DEV_BLOCK goto next
            }
            let mask = Self.accessMask(rule.access)
            if mask != 7 {
                // The rule covers the request only when every requested bit is in the rule.
                block.append((0xbc, 0, 3, 0))  // w0 = w3
                block.append((0x54, 0, 0, Int32(~mask & 7)))  // w0 &= ~mask
                block.append((0x55, 0, 0, 0))  // if r0 != 0 goto next
            }
            if let major = rule.major { block.append((0x55, 4, 0, Int32(truncatingIfNeeded: major))) }
            if let minor = rule.minor { block.append((0x55, 5, 0, Int32(truncatingIfNeeded: minor))) }
            // Each conditional jump skips to the end of this block: the two instructions of
            // the verdict follow the conditions.
            for (index, instruction) in block.enumerated() {
                let isJump = instruction.code == 0x55
                let remaining = block.count - index - 1
                emit(
                    instruction.code, dst: instruction.dst, src: instruction.src,
                    offset: isJump ? Int16(remaining + 2) : 0, immediate: instruction.immediate)
            }
            emit(0xb7, dst: 0, immediate: rule.allow ? 1 : 0)  // r0 = verdict
            emit(0x95)  // exit
            // A rule without conditions decides everything: what follows would be unreachable,
            // which the verifier refuses.
            if block.isEmpty { return }
        }
        emit(0xb7, dst: 0, immediate: 0)  // no rule matched: deny
        emit(0x95)
    }

    /// BPF_DEVCG_ACC_MKNOD = 1, READ = 2, WRITE = 4.
    static func accessMask(_ access: String) -> Int32 {
        var mask: Int32 = 0
        if access.contains("m") { mask |= 1 }
        if access.contains("r") { mask |= 2 }
        if access.contains("w") { mask |= 4 }
        return mask
    }

    private mutating func emit(
        _ code: UInt8, dst: UInt8 = 0, src: UInt8 = 0, offset: Int16 = 0, immediate: Int32 = 0
    ) {
        // struct bpf_insn { u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm; } (little endian).
        let registers = UInt64(dst & 0xf) | UInt64(src & 0xf) << 4
        instructions.append(
            UInt64(code) | registers << 8 | UInt64(UInt16(bitPattern: offset)) << 16
                | UInt64(UInt32(bitPattern: immediate)) << 32)
    }

    /// Loads the program and attaches it to the cgroup v2 directory `cgroup` (alongside the
    /// programs of its ancestors: a device must be allowed by all of them).
    public func attach(to cgroup: String) throws(RuntimeError) {
        let program = try load()
        defer { close(program) }
        let directory = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw .system(operation: "open cgroup \(cgroup)", errno: errno) }
        defer { close(directory) }
        // union bpf_attr for BPF_PROG_ATTACH: target_fd, attach_bpf_fd, attach_type, attach_flags.
        var attributes = [UInt32](repeating: 0, count: 8)
        attributes[0] = UInt32(bitPattern: directory)
        attributes[1] = UInt32(bitPattern: program)
        attributes[2] = 6  // BPF_CGROUP_DEVICE
        attributes[3] = 2  // BPF_F_ALLOW_MULTI
        let rc = attributes.withUnsafeMutableBytes { buffer in
            berth_bpf(8 /* BPF_PROG_ATTACH */, buffer.baseAddress, UInt32(buffer.count))
        }
        guard rc == 0 else { throw .system(operation: "attach the device filter to \(cgroup)", errno: errno) }
    }

    /// bpf(BPF_PROG_LOAD) of the instructions; returns the program's descriptor.
    private func load() throws(RuntimeError) -> Int32 {
        let license = Array("Apache".utf8CString)
        var log = [CChar](repeating: 0, count: 16384)
        let fd: Int32 = instructions.withUnsafeBufferPointer { code in
            license.withUnsafeBufferPointer { license in
                log.withUnsafeMutableBufferPointer { log in
                    // union bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns, license,
                    // log_level, log_size, log_buf, kern_version, prog_flags, ...
                    var attributes = [UInt64](repeating: 0, count: 16)
                    attributes[0] = 15 | UInt64(code.count) << 32  // BPF_PROG_TYPE_CGROUP_DEVICE
                    attributes[1] = UInt64(UInt(bitPattern: code.baseAddress))
                    attributes[2] = UInt64(UInt(bitPattern: license.baseAddress))
                    attributes[3] = 1 | UInt64(log.count) << 32  // log_level 1, log_size
                    attributes[4] = UInt64(UInt(bitPattern: log.baseAddress))
                    return attributes.withUnsafeMutableBytes { buffer in
                        berth_bpf(5 /* BPF_PROG_LOAD */, buffer.baseAddress, UInt32(buffer.count))
                    }
                }
            }
        }
        guard fd >= 0 else {
            let code = errno
            let message = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw .system(
                operation: "load the device filter" + (message.isEmpty ? "" : " (verifier: \(message))"), errno: code)
        }
        return fd
    }

}
