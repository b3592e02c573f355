import Foundation
import OCIImage

/// A container kept in the store: what it was created from, how to run it, and its state.
public struct ContainerRecord: Sendable, Equatable {
    /// Lifecycle states, as docker names them.
    public enum State: String, Sendable, Codable {
        case created, running, exited
    }

    /// 64 hex digits.
    public var id: String
    /// Unique name (`--name`, or a generated one).
    public var name: String
    /// The image's config digest.
    public var imageID: Digest
    /// The image as the user named it.
    public var imageName: String
    /// How to run it, as JSON (owned by the layer that starts containers).
    public var configJSON: String
    public var state: State
    /// The container's init process, in the host's pid namespace, while running.
    public var pid: Int32?
    /// Start time of `pid` (field 22 of /proc/PID/stat), so a reused pid is never mistaken.
    public var pidStartTime: Int64?
    /// The monitor process of a detached container.
    public var monitorPID: Int32?
    public var exitCode: Int32?
    public var created: String
    public var startedAt: String?
    public var finishedAt: String?

    public init(
        id: String, name: String, imageID: Digest, imageName: String, configJSON: String, state: State = .created,
        created: String
    ) {
        self.id = id
        self.name = name
        self.imageID = imageID
        self.imageName = imageName
        self.configJSON = configJSON
        self.state = state
        self.created = created
    }
}

extension ImageStore {
    /// Directory of container `id`: `fs/` (its upper directory), `work/`, `root/` (mount point),
    /// `log.json`.
    public nonisolated func containerDirectory(_ id: String) -> String {
        root + "/containers/" + id
    }

    /// Records a new container; fails when the name is taken.
    public func createContainer(_ record: ContainerRecord) throws(StoreError) {
        if try db.query("SELECT id FROM containers WHERE name = ?", [.text(record.name)]).first != nil {
            throw .invalid(
                "Conflict. The container name \"/\(record.name)\" is already in use. Remove it or choose another name")
        }
        try db.query(
            "INSERT INTO containers(id, name, image_id, image_name, config, state, created) VALUES(?, ?, ?, ?, ?, ?, ?)",
            [
                .text(record.id), .text(record.name), .text(record.imageID.description), .text(record.imageName),
                .text(record.configJSON), .text(record.state.rawValue), .text(record.created),
            ])
    }

    /// Saves a container's state fields.
    public func updateContainer(_ record: ContainerRecord) throws(StoreError) {
        try db.query(
            """
            UPDATE containers SET name = ?, state = ?, pid = ?, pid_start = ?, monitor_pid = ?, exit_code = ?,
                started_at = ?, finished_at = ? WHERE id = ?
            """,
            [
                .text(record.name), .text(record.state.rawValue), record.pid.map { .integer(Int64($0)) } ?? .null,
                record.pidStartTime.map { .integer($0) } ?? .null,
                record.monitorPID.map { .integer(Int64($0)) } ?? .null,
                record.exitCode.map { .integer(Int64($0)) } ?? .null, record.startedAt.map { .text($0) } ?? .null,
                record.finishedAt.map { .text($0) } ?? .null, .text(record.id),
            ])
    }

    /// Finds a container by name, full id or unique id prefix.
    public func container(named name: String) throws(StoreError) -> ContainerRecord {
        let trimmed = name.hasPrefix("/") ? String(name.dropFirst()) : name
        if let row = try db.query("SELECT * FROM containers WHERE name = ?", [.text(trimmed)]).first {
            return try Self.containerRecord(row)
        }
        let hex = trimmed.lowercased()
        if !hex.isEmpty, hex.count <= 64, hex.allSatisfy(\.isHexDigit) {
            let rows = try db.query(
                "SELECT * FROM containers WHERE id >= ? AND id < ? LIMIT 2", [.text(hex), .text(hex + "g")])
            if rows.count == 1 { return try Self.containerRecord(rows[0]) }
            if rows.count > 1 { throw .invalid("container id prefix '\(name)' is ambiguous") }
        }
        throw .invalid("No such container: \(name)")
    }

    /// Every container, newest first.
    public func containers() throws(StoreError) -> [ContainerRecord] {
        try db.query("SELECT * FROM containers ORDER BY created DESC, id").map { row throws(StoreError) in
            try Self.containerRecord(row)
        }
    }

    /// Removes a container's record (its directory must be gone first).
    public func deleteContainer(_ id: String) throws(StoreError) {
        try db.query("DELETE FROM containers WHERE id = ?", [.text(id)])
    }

    /// Containers created from image `id`.
    public func containers(usingImage id: Digest) throws(StoreError) -> [ContainerRecord] {
        try db.query("SELECT * FROM containers WHERE image_id = ?", [.text(id.description)]).map {
            row throws(StoreError) in try Self.containerRecord(row)
        }
    }

    static func containerRecord(_ row: SQLRow) throws(StoreError) -> ContainerRecord {
        guard let id = row.text("id"), let imageText = row.text("image_id"),
            let imageID = try? Digest(parsing: imageText)
        else { throw .invalid("store database holds a malformed container row") }
        var record = ContainerRecord(
            id: id, name: row.text("name") ?? "", imageID: imageID, imageName: row.text("image_name") ?? "",
            configJSON: row.text("config") ?? "{}",
            state: ContainerRecord.State(rawValue: row.text("state") ?? "") ?? .exited,
            created: row.text("created") ?? "")
        record.pid = row.integer("pid").map { Int32($0) }
        record.pidStartTime = row.integer("pid_start")
        record.monitorPID = row.integer("monitor_pid").map { Int32($0) }
        record.exitCode = row.integer("exit_code").map { Int32($0) }
        record.startedAt = row.text("started_at")
        record.finishedAt = row.text("finished_at")
        return record
    }
}
