/// Linux capability names and the default set docker grants.
enum Capabilities {
    static let names: [String: Int] = [
        "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6,
        "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9, "NET_BIND_SERVICE": 10, "NET_BROADCAST": 11,
        "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "IPC_OWNER": 15, "SYS_MODULE": 16, "SYS_RAWIO": 17,
        "SYS_CHROOT": 18, "SYS_PTRACE": 19, "SYS_PACCT": 20, "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23,
        "SYS_RESOURCE": 24, "SYS_TIME": 25, "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28, "AUDIT_WRITE": 29,
        "AUDIT_CONTROL": 30, "SETFCAP": 31, "MAC_OVERRIDE": 32, "MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35,
        "BLOCK_SUSPEND": 36, "AUDIT_READ": 37, "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
    ]

    /// Docker's 14: CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID, SETFCAP,
    /// SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE (0x00000000a80425fb).
    static let dockerDefault: [String] = [
        "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP",
        "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
    ]

    /// The capability mask for `spec` on a kernel whose last capability is `last`.
    static func mask(_ spec: CapabilitySpec, last: Int) throws(RuntimeError) -> UInt64 {
        let all: UInt64 = last >= 63 ? ~0 : (UInt64(1) << UInt64(last + 1)) - 1
        if spec.privileged { return all }
        var set = Set(dockerDefault)
        for name in spec.add {
            let key = try normalize(name)
            if key == "ALL" { return all }
            set.insert(key)
        }
        for name in spec.drop {
            let key = try normalize(name)
            if key == "ALL" { set.removeAll() } else { set.remove(key) }
        }
        var mask: UInt64 = 0
        for name in set {
            if let bit = names[name], bit <= last { mask |= UInt64(1) << UInt64(bit) }
        }
        return mask
    }

    static func normalize(_ name: String) throws(RuntimeError) -> String {
        var key = name.uppercased()
        if key.hasPrefix("CAP_") { key.removeFirst(4) }
        guard key == "ALL" || names[key] != nil else {
            throw .invalidSpec("unknown capability '\(name)'")
        }
        return key
    }
}
