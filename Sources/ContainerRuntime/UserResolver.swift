import CRuntimeShim

#if canImport(Glibc)
    import Glibc
#endif

/// A user resolved inside a container.
public struct ResolvedUser: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var additionalGroups: [UInt32]
    public var home: String
}

/// Resolves `USER` values against the container's own /etc/passwd and /etc/group (read through
/// the root with RESOLVE_IN_ROOT, never the host's files), as docker does.
public enum UserResolver {
    public static func resolve(_ spec: String, root: String) throws(RuntimeError) -> ResolvedUser {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let userPart = parts.first ?? ""
        let groupPart = parts.count > 1 ? parts[1] : nil
        let passwd = readDatabase(root: root, path: "etc/passwd")
        let groups = readDatabase(root: root, path: "etc/group")
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        var name: String?
        var home = "/"
        if userPart.isEmpty {
            if let entry = passwd.first(where: { $0.count > 5 && $0[2] == "0" }) {
                name = entry[0]
                home = entry[5]
            }
        } else if let numeric = UInt32(userPart) {
            uid = numeric
            if let entry = passwd.first(where: { $0.count > 5 && UInt32($0[2]) == numeric }) {
                name = entry[0]
                gid = UInt32(entry[3]) ?? 0
                home = entry[5]
            }
        } else if let entry = passwd.first(where: { $0.count > 5 && $0[0] == userPart }), let u = UInt32(entry[2]) {
            uid = u
            gid = UInt32(entry[3]) ?? 0
            name = entry[0]
            home = entry[5]
        } else {
            throw .invalidSpec("unable to find user \(userPart): no matching entries in passwd file")
        }
        if let groupPart {
            if let numeric = UInt32(groupPart) {
                gid = numeric
            } else if let entry = groups.first(where: { $0.count > 2 && $0[0] == groupPart }), let g = UInt32(entry[2])
            {
                gid = g
            } else {
                throw .invalidSpec("unable to find group \(groupPart): no matching entries in group file")
            }
        }
        var additional: [UInt32] = []
        if let name, groupPart == nil {
            for entry in groups where entry.count > 3 {
                let members = entry[3].split(separator: ",").map(String.init)
                if members.contains(name), let g = UInt32(entry[2]), g != gid, !additional.contains(g) {
                    additional.append(g)
                }
            }
        }
        return ResolvedUser(uid: uid, gid: gid, additionalGroups: additional, home: home.isEmpty ? "/" : home)
    }

    /// Lines of a colon-separated database file inside the root; missing files read as empty.
    static func readDatabase(root: String, path: String) -> [[String]] {
        let rootFD = open(root, BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { return [] }
        defer { close(rootFD) }
        let fd = berth_open_in_root(rootFD, path, O_RDONLY, 0)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while bytes.count < 16 << 20 {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            let text = line.trimmingPrefix(while: { $0 == " " })
            if text.hasPrefix("#") || text.isEmpty { return nil }
            return text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        }
    }
}
