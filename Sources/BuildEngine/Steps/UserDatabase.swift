import Foundation
import ImageStore

#if canImport(Glibc)
    import Glibc
#endif

/// Resolves `user[:group]` against a root file system's /etc/passwd and /etc/group (never the
/// host's), for `COPY --chown` and the directories WORKDIR creates, as BuildKit does (checked
/// against docker 20.10): a numeric user without a group is `uid:uid` (not looked up), a user
/// name takes its primary group from passwd. A name the files do not list is not an error: an
/// unknown user is root (0:0), an unknown group leaves the user's group.
enum UserDatabase {
    static func resolve(_ spec: String, in root: String) throws -> (uid_t, gid_t) {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let userPart = parts.first ?? ""
        var uid: uid_t = 0
        var gid: gid_t = 0
        if let numeric = uid_t(userPart) {
            uid = numeric
            gid = numeric
        } else if !userPart.isEmpty,
            let entry = entries(root, "/etc/passwd").first(where: { $0.first == userPart && $0.count > 3 }),
            let u = uid_t(entry[2]), let g = gid_t(entry[3])
        {
            uid = u
            gid = g
        }
        if parts.count == 2, !parts[1].isEmpty {
            let groupPart = parts[1]
            if let numeric = gid_t(groupPart) {
                gid = numeric
            } else if let entry = entries(root, "/etc/group").first(where: { $0.first == groupPart && $0.count > 2 }),
                let g = gid_t(entry[2])
            {
                gid = g
            }
        }
        return (uid, gid)
    }

    private static func entries(_ root: String, _ path: String) -> [[String]] {
        guard let resolved = try? RootedPath.resolve(path, in: root),
            let bytes = try? FileSystem.read(resolved)
        else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map {
            $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        }
    }
}
