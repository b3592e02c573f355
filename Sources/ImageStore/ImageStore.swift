import Foundation
import OCIImage

/// berth's local store: content-addressed blobs on disk, metadata in SQLite.
///
/// Layout under `root`:
/// - `blobs/sha256/<hex>`: blobs (configs, manifests, layer tars), written temp → fsync → rename.
/// - `snapshots/<n>/fs`: committed overlay snapshots (numeric ids keep overlay option strings short).
/// - `containers/<id>/`: a container's upper directory, overlay work directory, mount point, log.
/// - `tmp/`: temporary files on the same filesystem, for atomic renames.
/// - `berth.db`: images, tags, snapshots, cache records.
/// - `lock`: every berth process holds a shared lock on it while it uses the store; garbage
///   collection and `system check` take it exclusively, so they never see another process's
///   half-written blobs or snapshots.
public actor ImageStore {
    public nonisolated let root: String
    let db: SQLiteDatabase
    let lock: StoreLock
    /// Manifests and configs already read, verified and decoded by this process, by image id
    /// (blobs are content-addressed: the bytes behind a digest never change).
    var decodedImages: [String: DecodedImage] = [:]

    /// Opens (creating if needed) the store at `root`.
    public init(root: String) throws(StoreError) {
        self.root = root
        for dir in ["", "blobs/sha256", "snapshots", "containers", "tmp", "runtime"] {
            try FileSystem.makeDirectory(root + "/" + dir)
        }
        lock = try StoreLock(path: root + "/lock")
        db = try SQLiteDatabase(path: root + "/berth.db")
        try Migrations.apply(to: db)
    }

    /// Directory for temporary files on the store's filesystem.
    public nonisolated var temporaryDirectory: String { root + "/tmp" }
    /// Directory for the runtime's state (seccomp cache, per-container files).
    public nonisolated var runtimeDirectory: String { root + "/runtime" }
    /// Directory holding snapshot directories.
    public nonisolated var snapshotsDirectory: String { root + "/snapshots" }

    /// A fresh unique path under `tmp/` (inside this process's scratch directory there, when
    /// it has one: see ``TemporaryPaths/useScratch(_:in:)``), remembered in ``TemporaryPaths``
    /// so an interrupted command can remove it.
    public nonisolated func temporaryPath(_ prefix: String) -> String {
        let base = TemporaryPaths.scratchDirectory(for: temporaryDirectory) ?? temporaryDirectory
        let path = "\(base)/\(prefix)-\(UUID().uuidString.lowercased())"
        TemporaryPaths.register(path)
        return path
    }
}

/// Schema migrations, applied in order and recorded in `PRAGMA user_version`.
enum Migrations {
    static let steps: [String] = [
        """
        CREATE TABLE blobs(
            digest TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            media_type TEXT,
            created INTEGER NOT NULL);
        CREATE TABLE images(
            id TEXT PRIMARY KEY,
            manifest_digest TEXT NOT NULL REFERENCES blobs(digest),
            created INTEGER NOT NULL);
        CREATE TABLE tags(
            name TEXT PRIMARY KEY,
            image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE);
        CREATE INDEX tags_image ON tags(image_id);
        CREATE TABLE snapshots(
            id INTEGER PRIMARY KEY,
            chain_id TEXT UNIQUE,
            parent INTEGER REFERENCES snapshots(id),
            diff_id TEXT,
            layer_digest TEXT REFERENCES blobs(digest),
            size INTEGER,
            state TEXT NOT NULL,
            created INTEGER NOT NULL);
        CREATE TABLE cache(
            key TEXT PRIMARY KEY,
            result TEXT NOT NULL,
            created INTEGER NOT NULL,
            last_used INTEGER NOT NULL);
        """,
        // The context stat cache: a file whose size, mtime, ctime and inode are unchanged is not
        // read again to hash it.
        """
        CREATE TABLE stat_cache(
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            ctime_ns INTEGER NOT NULL,
            inode INTEGER NOT NULL,
            digest TEXT NOT NULL);
        """,
        // Cache records name the snapshot they keep alive, so garbage collection can follow them;
        // compressed copies of layers (made for save and push) are remembered and kept.
        """
        ALTER TABLE cache ADD COLUMN snapshot_chain TEXT;
        UPDATE cache SET snapshot_chain = json_extract(result, '$.chain');
        CREATE INDEX cache_last_used ON cache(last_used);
        CREATE TABLE compressed(
            diff_id TEXT NOT NULL,
            algorithm TEXT NOT NULL,
            digest TEXT NOT NULL REFERENCES blobs(digest) ON DELETE CASCADE,
            size INTEGER NOT NULL,
            PRIMARY KEY(diff_id, algorithm));
        """,
        // Containers: created from an image, run in the foreground or under a monitor.
        """
        CREATE TABLE containers(
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            image_id TEXT NOT NULL,
            image_name TEXT NOT NULL,
            config TEXT NOT NULL,
            state TEXT NOT NULL,
            pid INTEGER,
            pid_start INTEGER,
            monitor_pid INTEGER,
            exit_code INTEGER,
            created TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT);
        CREATE INDEX containers_image ON containers(image_id);
        """,
        // Where blobs are known to be in registries, so a push can mount instead of upload.
        """
        CREATE TABLE blob_sources(
            digest TEXT NOT NULL,
            registry TEXT NOT NULL,
            repository TEXT NOT NULL,
            PRIMARY KEY(digest, registry, repository));
        """,
        // The step inputs of the last build of each Dockerfile and target, for `build --explain`.
        """
        CREATE TABLE build_records(
            dockerfile TEXT NOT NULL,
            target TEXT NOT NULL,
            record TEXT NOT NULL,
            created INTEGER NOT NULL,
            PRIMARY KEY(dockerfile, target));
        """,
        // The stat cache as one row per context directory (its files' records in one blob, see
        // StatRecords), replacing the row per file (the old table stays, emptied, for older
        // berth binaries on the same store).
        """
        DELETE FROM stat_cache;
        CREATE TABLE stat_directories(
            path TEXT PRIMARY KEY,
            records BLOB NOT NULL);
        """,
        // Layer blobs a build made are written only when something reads them (save, push, a
        // --link layer on another base): until then `recipe` tells the snapshotter how to write
        // the blob from the committed snapshot whose layer it is.
        """
        ALTER TABLE blobs ADD COLUMN recipe TEXT;
        CREATE INDEX snapshots_layer ON snapshots(layer_digest);
        """,
    ]

    static func apply(to db: SQLiteDatabase) throws(StoreError) {
        let current = Int(try db.query("PRAGMA user_version").first?.integer("user_version") ?? 0)
        guard current < steps.count else { return }
        try db.transaction { () throws(StoreError) in
            // Re-read inside the write lock: another berth process may have migrated meanwhile.
            let version = Int(try db.query("PRAGMA user_version").first?.integer("user_version") ?? 0)
            for index in version..<steps.count {
                try db.execute(steps[index])
            }
            try db.execute("PRAGMA user_version=\(steps.count)")
        }
    }
}
