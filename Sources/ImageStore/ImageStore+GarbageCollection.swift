import Foundation
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// What a prune removes.
public struct PruneRequest: Sendable {
    /// Remove images without a name (`image prune`, `system prune`).
    public var danglingImages: Bool
    /// Remove every image (`-a`; berth keeps no containers that could be using one).
    public var allImages: Bool
    /// Remove build-cache records (`system prune`).
    public var buildCache: Bool
    /// Remove containers that are not running (`system prune`, `container prune`).
    public var stoppedContainers: Bool
    /// Keep the most recently used build cache up to this many bytes (`--keep-storage`).
    public var keepStorage: Int64?

    public init(
        danglingImages: Bool = true, allImages: Bool = false, buildCache: Bool = false, keepStorage: Int64? = nil,
        stoppedContainers: Bool = false
    ) {
        self.stoppedContainers = stoppedContainers
        self.danglingImages = danglingImages
        self.allImages = allImages
        self.buildCache = buildCache
        self.keepStorage = keepStorage
    }
}

/// What a prune removed.
public struct PruneReport: Sendable, Equatable {
    public var deletedContainers: [String] = []
    public var untagged: [String] = []
    public var deletedImages: [Digest] = []
    /// Build-cache record keys.
    public var deletedCacheRecords: [String] = []
    public var deletedSnapshots = 0
    public var deletedBlobs = 0
    /// Bytes freed on disk.
    public var reclaimedBytes: Int64 = 0
}

extension ImageStore {
    /// Removes what `request` names, then everything nothing references any more: snapshots
    /// (and leftovers of interrupted builds), blobs, stray snapshot directories and temporary
    /// files. Waits (calling `onWait` once) until no other berth process uses the store.
    public func prune(_ request: PruneRequest, onWait: @Sendable () -> Void = {}) throws(StoreError) -> PruneReport {
        try withExclusiveAccess(onWait: onWait) { () throws(StoreError) -> PruneReport in
            var report = PruneReport()
            if request.stoppedContainers { try removeStoppedContainers(into: &report) }
            try db.transaction { () throws(StoreError) in
                try removeImages(request, into: &report)
                if request.buildCache { try evictBuildCache(keeping: request.keepStorage, into: &report) }
            }
            if request.buildCache { try evictCacheMounts(keeping: request.keepStorage, into: &report) }
            try sweep(into: &report)
            return report
        }
    }

    /// Containers whose process is gone (a running state whose process died counts as stopped).
    private func removeStoppedContainers(into report: inout PruneReport) throws(StoreError) {
        for container in try containers() {
            if container.state == .running, ProcessLiveness.isAlive(container.pid, startTime: container.pidStartTime) {
                continue
            }
            report.reclaimedBytes += try removeContainerDirectory(container.id)
            try deleteContainer(container.id)
            report.deletedContainers.append(container.id)
        }
    }

    private func removeImages(_ request: PruneRequest, into report: inout PruneReport) throws(StoreError) {
        guard request.danglingImages || request.allImages else { return }
        let used = Set(try containers().map(\.imageID))
        for image in try images() where (request.allImages || image.tags.isEmpty) && !used.contains(image.id) {
            for tag in image.tags {
                try db.query("DELETE FROM tags WHERE name = ?", [.text(tag)])
                report.untagged.append(tag)
            }
            try deleteImage(image.id)
            report.deletedImages.append(image.id)
        }
    }

    /// Drops build-cache records, least recently used first, until what only the cache keeps
    /// alive fits in `keep` bytes (all of them without a limit).
    private func evictBuildCache(keeping keep: Int64?, into report: inout PruneReport) throws(StoreError) {
        let references = try references()
        var kept = references.imageSnapshots
        var keptSize: Int64 = 0
        for record in references.cacheRecords {
            if let keep {
                let added = references.snapshots(of: record).subtracting(kept)
                let size = references.size(of: added)
                if keptSize + size <= keep {
                    kept.formUnion(added)
                    keptSize += size
                    continue
                }
            }
            try db.query("DELETE FROM cache WHERE key = ?", [.text(record.key)])
            report.deletedCacheRecords.append(record.key)
        }
    }

    /// Removes everything no image and no cache record reaches. Runs with exclusive access, so
    /// active snapshots and temporary files belong to berth processes that are gone.
    private func sweep(into report: inout PruneReport) throws(StoreError) {
        let references = try references()
        var live = references.imageSnapshots
        for record in references.cacheRecords { live.formUnion(references.snapshots(of: record)) }
        // Snapshots: children have larger ids than their parents, so remove from the top down.
        // Records go first: a kill in between leaves directories nothing names (a leftover the
        // next prune or `system check --repair` removes), never a record without its files.
        let dead = references.snapshots.keys.filter { !live.contains($0) }.sorted(by: >)
        try db.transaction { () throws(StoreError) in
            for id in dead { try db.query("DELETE FROM snapshots WHERE id = ?", [.integer(id)]) }
            // Records whose snapshot is gone can only cause a rebuild; drop them.
            for record in references.cacheRecords {
                if let chain = record.chain, references.snapshotsByChain[chain].map(live.contains) != true {
                    try db.query("DELETE FROM cache WHERE key = ?", [.text(record.key)])
                }
            }
        }
        for id in dead {
            report.reclaimedBytes += try removeSnapshotDirectory(String(id))
        }
        report.deletedSnapshots = dead.count
        for name in try FileSystem.listDirectory(snapshotsDirectory) where name != "empty" {
            guard let id = Int64(name), references.snapshots[id] != nil, !dead.contains(id) else {
                report.reclaimedBytes += try removeSnapshotDirectory(name)
                continue
            }
        }
        try sweepBlobs(keeping: references, liveSnapshots: live, into: &report)
        let containerIDs = Set(try containers().map(\.id))
        for name in try FileSystem.listDirectory(root + "/containers") where !containerIDs.contains(name) {
            report.reclaimedBytes += try removeContainerDirectory(name)
        }
        for name in try FileSystem.listDirectory(temporaryDirectory) {
            report.reclaimedBytes += FileSystem.diskUsage(temporaryDirectory + "/" + name)
            try FileSystem.removeTree(temporaryDirectory + "/" + name)
        }
    }

    private func sweepBlobs(
        keeping references: StoreReferences, liveSnapshots: Set<Int64>, into report: inout PruneReport
    ) throws(StoreError) {
        var live = references.imageBlobs
        for id in liveSnapshots {
            if let layer = references.snapshots[id]?.layerDigest { live.insert(layer.description) }
        }
        for row in try db.query("SELECT diff_id, digest FROM compressed") {
            if let diffID = row.text("diff_id"), let digest = row.text("digest"), live.contains(diffID) {
                live.insert(digest)
            }
        }
        var recorded = Set<String>()
        for row in try db.query("SELECT digest FROM blobs") {
            guard let text = row.text("digest") else { continue }
            recorded.insert(text)
            guard !live.contains(text), let digest = try? Digest(parsing: text) else { continue }
            report.reclaimedBytes += FileSystem.diskUsage(blobPath(digest))
            // The row first, as for snapshots: a blob file without a row is a leftover.
            try db.query("DELETE FROM blobs WHERE digest = ?", [.text(text)])
            try FileSystem.removeTree(blobPath(digest))
            report.deletedBlobs += 1
        }
        // Files no row names: blobs written by a process that died before recording them.
        let directory = root + "/blobs/sha256"
        for name in try FileSystem.listDirectory(directory) where !recorded.contains("sha256:" + name) {
            report.reclaimedBytes += FileSystem.diskUsage(directory + "/" + name)
            try FileSystem.removeTree(directory + "/" + name)
            report.deletedBlobs += 1
        }
    }

    /// Unmounts and removes a container's directory; returns the bytes it held. `thorough`
    /// false skips looking for mounts and measuring (a container its own berth just unmounted).
    public func removeContainerDirectory(_ id: String, thorough: Bool = true) throws(StoreError) -> Int64 {
        guard thorough else {
            try FileSystem.removeTreeConcurrently(containerDirectory(id))
            return 0
        }
        return try removeDirectoryUnmounting(containerDirectory(id))
    }

    /// Unmounts (if a crashed berth left it mounted) and removes `snapshots/<name>`; returns the
    /// bytes it held.
    func removeSnapshotDirectory(_ name: String) throws(StoreError) -> Int64 {
        try removeDirectoryUnmounting(snapshotsDirectory + "/" + name)
    }

    private func removeDirectoryUnmounting(_ directory: String) throws(StoreError) -> Int64 {
        for mountPoint in Self.mountPoints().reversed()
        where mountPoint == directory || mountPoint.hasPrefix(directory + "/") {
            umount2(mountPoint, Int32(MNT_DETACH))
        }
        let bytes = FileSystem.diskUsage(directory)
        try FileSystem.removeTree(directory)
        return bytes
    }
}
