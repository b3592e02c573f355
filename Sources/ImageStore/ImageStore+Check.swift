import Foundation
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// Something `system check` found wrong with the store.
public struct StoreProblem: Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, naming the blob, image, snapshot or path.
    public var description: String
    /// How `--repair` fixes it; nil when something still references it, so removing it would
    /// lose data (the problem is only reported).
    var repair: Repair?

    /// True when `--repair` can fix this without touching anything in use.
    public var isRepairable: Bool { repair != nil }

    enum Repair: Sendable, Equatable {
        case deleteBlob(String)
        case recordBlob(String, size: Int64)
        case deleteSnapshotTree(Int64)
        case removeSnapshotDirectory(String)
        case removeContainerDirectory(String)
        case deleteCacheRecord(String)
        case unmount(String)
        case removeTemporary(String)
    }
}

/// The result of `system check`.
public struct CheckReport: Sendable {
    /// Everything found, repaired or not.
    public var problems: [StoreProblem] = []
    /// The problems `--repair` fixed.
    public var repaired: [StoreProblem] = []
    /// Problems left (found and not repaired).
    public var remaining: [StoreProblem] { problems.filter { !repaired.contains($0) } }
}

extension ImageStore {
    /// Verifies every blob's digest, every reference between images, blobs, snapshots and cache
    /// records, and looks for orphaned snapshots, stray mounts and leftover temporary files.
    /// With `repair`, removes only what nothing references. Takes the store exclusively.
    public func check(repair: Bool, onWait: @Sendable () -> Void = {}) throws(StoreError) -> CheckReport {
        try withExclusiveAccess(onWait: onWait) { () throws(StoreError) -> CheckReport in
            var report = CheckReport()
            let references = try checkImages(into: &report)
            var live = references.imageSnapshots
            for record in references.cacheRecords { live.formUnion(references.snapshots(of: record)) }
            var referencedBlobs = references.imageBlobs
            for id in live {
                if let layer = references.snapshots[id]?.layerDigest { referencedBlobs.insert(layer.description) }
            }
            try checkBlobs(referenced: referencedBlobs, into: &report)
            checkSnapshots(references, into: &report)
            try checkCache(references, into: &report)
            checkMounts(into: &report)
            for name in try FileSystem.listDirectory(temporaryDirectory) {
                report.problems.append(
                    StoreProblem(
                        description: "leftover temporary file \(temporaryDirectory)/\(name)",
                        repair: .removeTemporary(temporaryDirectory + "/" + name)))
            }
            if repair {
                // Unmount first: a stray mount may sit inside a directory that is to be removed.
                let ordered =
                    report.problems.filter { if case .unmount = $0.repair { true } else { false } }
                    + report.problems.filter { if case .unmount = $0.repair { false } else { true } }
                for problem in ordered {
                    guard let action = problem.repair else { continue }
                    try perform(action)
                    report.repaired.append(problem)
                }
            }
            return report
        }
    }

    /// Images: each must decode and name blobs that exist. Returns the store's references, read
    /// around images that are damaged.
    private func checkImages(into report: inout CheckReport) throws(StoreError) -> StoreReferences {
        for row in try db.query("SELECT id FROM images ORDER BY id") {
            guard let id = row.text("id"), let digest = try? Digest(parsing: id) else { continue }
            do {
                let image = try self.image(named: id)
                for layer in image.manifest.layers where !((try? blobIsAvailable(layer.digest)) ?? false) {
                    report.problems.append(
                        StoreProblem(description: "image \(digest.shortID): layer blob \(layer.digest) is missing"))
                }
                if image.manifest.layers.count != image.config.rootfs.diffIDs.count {
                    report.problems.append(
                        StoreProblem(
                            description:
                                "image \(digest.shortID): manifest has \(image.manifest.layers.count) layers, config \(image.config.rootfs.diffIDs.count) diff_ids"
                        ))
                }
            } catch {
                report.problems.append(StoreProblem(description: "image \(digest.shortID) cannot be read: \(error)"))
            }
        }
        // A damaged image still keeps what its row and its readable parts name.
        return try references(tolerateDamage: true)
    }

    private func checkBlobs(referenced: Set<String>, into report: inout CheckReport) throws(StoreError) {
        var recorded = Set<String>()
        for row in try db.query("SELECT digest, size FROM blobs ORDER BY digest") {
            guard let text = row.text("digest") else { continue }
            recorded.insert(text)
            guard let digest = try? Digest(parsing: text) else {
                report.problems.append(StoreProblem(description: "blob record '\(text)' is not a valid digest"))
                continue
            }
            let inUse = referenced.contains(text)
            let path = blobPath(digest)
            guard FileSystem.exists(path) else {
                // A layer not written yet: fine while the snapshot it is written from is there.
                if try deferredBlob(digest) != nil { continue }
                report.problems.append(
                    StoreProblem(
                        description: "blob \(text): file \(path) is missing" + (inUse ? " (in use)" : ""),
                        repair: inUse ? nil : .deleteBlob(text)))
                continue
            }
            let actual = try FileSystem.digest(ofFile: path)
            if actual.digest != digest || actual.size != (row.integer("size") ?? -1) {
                report.problems.append(
                    StoreProblem(
                        description:
                            "blob \(text): content of \(path) has digest \(actual.digest) and \(actual.size) bytes"
                            + (inUse ? " (in use)" : ""),
                        repair: inUse ? nil : .deleteBlob(text)))
            }
        }
        let directory = root + "/blobs/sha256"
        for name in try FileSystem.listDirectory(directory) where !recorded.contains("sha256:" + name) {
            let text = "sha256:" + name
            let path = directory + "/" + name
            let actual = try FileSystem.digest(ofFile: path)
            let intact = actual.digest.description == text
            report.problems.append(
                StoreProblem(
                    description: "blob file \(path) has no record" + (intact ? "" : " and does not match its name"),
                    repair: intact && referenced.contains(text)
                        ? .recordBlob(text, size: actual.size) : .deleteBlob(text)))
        }
    }

    private func checkSnapshots(_ references: StoreReferences, into report: inout CheckReport) {
        for (id, record) in references.snapshots.sorted(by: { $0.key < $1.key }) {
            let directory = snapshotsDirectory + "/\(id)"
            if !record.isCommitted {
                report.problems.append(
                    StoreProblem(
                        description: "snapshot \(id) was left active by an interrupted berth",
                        repair: .deleteSnapshotTree(id)))
            } else if !FileSystem.exists(directory + "/fs") {
                report.problems.append(
                    StoreProblem(
                        description: "snapshot \(id): directory \(directory)/fs is missing",
                        repair: .deleteSnapshotTree(id)))
            } else if let layer = record.layerDigest, !((try? blobIsAvailable(layer)) ?? false) {
                let inUse = references.imageSnapshots.contains(id)
                report.problems.append(
                    StoreProblem(
                        description: "snapshot \(id): layer blob \(layer) is missing" + (inUse ? " (in use)" : ""),
                        repair: inUse ? nil : .deleteSnapshotTree(id)))
            }
        }
        let containerIDs = Set(((try? containers()) ?? []).map(\.id))
        for name in (try? FileSystem.listDirectory(root + "/containers")) ?? [] where !containerIDs.contains(name) {
            report.problems.append(
                StoreProblem(
                    description: "container directory \(root)/containers/\(name) has no record",
                    repair: .removeContainerDirectory(name)))
        }
        for name in (try? FileSystem.listDirectory(snapshotsDirectory)) ?? [] where name != "empty" {
            if let id = Int64(name), references.snapshots[id] != nil { continue }
            report.problems.append(
                StoreProblem(
                    description: "snapshot directory \(snapshotsDirectory)/\(name) has no record",
                    repair: .removeSnapshotDirectory(name)))
        }
    }

    private func checkCache(_ references: StoreReferences, into report: inout CheckReport) throws(StoreError) {
        for record in references.cacheRecords {
            guard let chain = record.chain, references.snapshotsByChain[chain] == nil else { continue }
            report.problems.append(
                StoreProblem(
                    description: "build cache record \(record.key.prefix(19)): snapshot \(chain) is gone",
                    repair: .deleteCacheRecord(record.key)))
        }
    }

    private func checkMounts(into report: inout CheckReport) {
        for mountPoint in Self.mountPoints() where mountPoint.hasPrefix(root + "/") {
            report.problems.append(
                StoreProblem(description: "stray mount at \(mountPoint)", repair: .unmount(mountPoint)))
        }
    }

    private func perform(_ action: StoreProblem.Repair) throws(StoreError) {
        switch action {
        case .deleteBlob(let text):
            if let digest = try? Digest(parsing: text) { try FileSystem.removeTree(blobPath(digest)) }
            try db.query("DELETE FROM blobs WHERE digest = ?", [.text(text)])
        case .recordBlob(let text, let size):
            try db.query(
                "INSERT OR IGNORE INTO blobs(digest, size, media_type, created) VALUES(?, ?, NULL, ?)",
                [.text(text), .integer(size), .integer(Self.now)])
        case .deleteSnapshotTree(let id):
            try deleteSnapshotTree(id)
        case .removeSnapshotDirectory(let name):
            _ = try removeSnapshotDirectory(name)
        case .removeContainerDirectory(let id):
            _ = try removeContainerDirectory(id)
        case .deleteCacheRecord(let key):
            try db.query("DELETE FROM cache WHERE key = ?", [.text(key)])
        case .unmount(let path):
            if umount2(path, Int32(MNT_DETACH)) != 0 && errno != EINVAL && errno != ENOENT {
                throw .io(path: path, operation: "unmount", errno: errno)
            }
        case .removeTemporary(let path):
            try FileSystem.removeTree(path)
        }
    }

    /// Removes a snapshot, every snapshot built on it, and the cache records that point at them.
    private func deleteSnapshotTree(_ id: Int64) throws(StoreError) {
        for row in try db.query("SELECT id FROM snapshots WHERE parent = ?", [.integer(id)]) {
            if let child = row.integer("id") { try deleteSnapshotTree(child) }
        }
        if let chain = try db.query("SELECT chain_id FROM snapshots WHERE id = ?", [.integer(id)]).first?.text(
            "chain_id")
        {
            try db.query("DELETE FROM cache WHERE snapshot_chain = ?", [.text(chain)])
        }
        _ = try removeSnapshotDirectory(String(id))
        try db.query("DELETE FROM snapshots WHERE id = ?", [.integer(id)])
    }

    /// Mount points in this process's mount namespace (from /proc/self/mountinfo, unescaped).
    static func mountPoints() -> [String] {
        guard let bytes = try? FileSystem.read("/proc/self/mountinfo") else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { return nil }
            return unescapeMountField(String(fields[4]))
        }
    }

    /// Undoes the kernel's octal escapes (`\040` for a space) in a mountinfo field.
    static func unescapeMountField(_ field: String) -> String {
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var index = 0
        while index < raw.count {
            if raw[index] == UInt8(ascii: "\\"), index + 3 < raw.count,
                let value = UInt8(String(decoding: raw[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(raw[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
