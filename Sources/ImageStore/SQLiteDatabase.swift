import CSQLite
import Foundation

/// A value bound to or read from an SQLite statement.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)
    case blob([UInt8])

    public var text: String? {
        if case .text(let s) = self { return s }
        return nil
    }

    public var integer: Int64? {
        if case .integer(let i) = self { return i }
        return nil
    }
}

/// One result row, by column name.
public struct SQLRow: Sendable {
    public var values: [String: SQLValue]

    public subscript(_ column: String) -> SQLValue { values[column] ?? .null }
    public func text(_ column: String) -> String? { self[column].text }
    public func integer(_ column: String) -> Int64? { self[column].integer }
}

/// The current row of a statement being stepped by ``SQLiteDatabase/scan(_:_:_:)``.
struct StatementRow {
    let statement: OpaquePointer

    func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    func text(_ column: Int32) -> String? { sqlite3_column_text(statement, column).map { String(cString: $0) } }
    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let bytes = sqlite3_column_blob(statement, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }
}

/// A thin wrapper over one SQLite connection (WAL, foreign keys, busy timeout).
///
/// Not thread-safe by itself: ``ImageStore`` (an actor) owns it.
final class SQLiteDatabase {
    private var handle: OpaquePointer?
    let path: String

    init(path: String) throws(StoreError) {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            throw .database(path: path, message: message)
        }
        handle = db
        sqlite3_busy_timeout(db, 30_000)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA foreign_keys=ON")
        try execute("PRAGMA synchronous=NORMAL")
        // Every berth command is a short process: checkpointing at close made each one pay two
        // fdatasyncs, and deleting the log made the next one create it again (a sync of the log
        // and of the store directory). The log now stays and is checkpointed once it holds 128
        // pages. Commits are ordered exactly as before (synchronous=NORMAL: a crash of berth
        // loses nothing committed; a power loss may roll back the last commits, as it already
        // could); 128 pages keep what the next process reads back at open under 512 KiB.
        berth_sqlite_no_checkpoint_on_close(db)
        try execute("PRAGMA wal_autocheckpoint=128")
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Runs statements that return no rows.
    func execute(_ sql: String) throws(StoreError) {
        var error: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(handle, sql, nil, nil, &error) != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(error)
            throw .database(path: path, message: "\(message) in: \(sql.prefix(120))")
        }
    }

    /// Runs one statement with bound parameters and returns its rows.
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue] = []) throws(StoreError) -> [SQLRow] {
        let statement = try prepare(sql, parameters)
        defer { sqlite3_finalize(statement) }
        var rows: [SQLRow] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else {
                throw .database(path: path, message: "\(lastError) in: \(sql.prefix(120))")
            }
            var values: [String: SQLValue] = [:]
            for column in 0..<sqlite3_column_count(statement) {
                let name = String(cString: sqlite3_column_name(statement, column))
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: values[name] = .integer(sqlite3_column_int64(statement, column))
                case SQLITE_NULL: values[name] = .null
                default:
                    values[name] = sqlite3_column_text(statement, column).map { .text(String(cString: $0)) } ?? .null
                }
            }
            rows.append(SQLRow(values: values))
        }
        return rows
    }

    /// Runs a query and hands each row to `body` as it is stepped, columns read by position:
    /// no per-row dictionary, for queries that return many rows (the stat cache).
    func scan(
        _ sql: String, _ parameters: [SQLValue] = [], _ body: (StatementRow) throws(StoreError) -> Void
    ) throws(StoreError) {
        let statement = try prepare(sql, parameters)
        defer { sqlite3_finalize(statement) }
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw .database(path: path, message: "\(lastError) in: \(sql.prefix(120))") }
            try body(StatementRow(statement: statement))
        }
    }

    /// Runs one statement once per parameter list, prepared once (call inside a transaction).
    func executeMany(_ sql: String, _ rows: [[SQLValue]]) throws(StoreError) {
        guard !rows.isEmpty else { return }
        let statement = try prepare(sql, [])
        defer { sqlite3_finalize(statement) }
        for parameters in rows {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
            bind(parameters, to: statement)
            guard sqlite3_step(statement) == SQLITE_DONE else {
                throw .database(path: path, message: "\(lastError) in: \(sql.prefix(120))")
            }
        }
    }

    private func prepare(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> OpaquePointer {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw .database(path: path, message: "\(lastError) in: \(sql.prefix(120))")
        }
        bind(parameters, to: statement)
        return statement
    }

    private func bind(_ parameters: [SQLValue], to statement: OpaquePointer) {
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (offset, value) in parameters.enumerated() {
            let index = Int32(offset + 1)
            switch value {
            case .null: sqlite3_bind_null(statement, index)
            case .integer(let i): sqlite3_bind_int64(statement, index, i)
            case .text(let s): sqlite3_bind_text(statement, index, s, -1, transient)
            case .blob(let b):
                b.withUnsafeBytes {
                    _ = sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), transient)
                }
            }
        }
    }

    /// The rowid of the last INSERT.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Runs `body` inside an immediate transaction, rolling back when it throws.
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    private var lastError: String { String(cString: sqlite3_errmsg(handle)) }
}
