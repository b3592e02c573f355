import Foundation

/// Encodes and decodes image JSON. Output is canonical (sorted keys, no insignificant whitespace,
/// slashes unescaped), so the same value always yields the same bytes and the same digest.
public enum CanonicalJSON {
    /// Canonical bytes of `value`.
    public static func encode<T: Encodable>(_ value: T) throws(OCIError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw .invalidJSON(what: String(describing: T.self), reason: "\(error)")
        }
    }

    /// Decodes `T` from `bytes`, naming `what` in the error.
    public static func decode<T: Decodable>(
        _ type: T.Type, from bytes: some DataProtocol, what: String
    ) throws(OCIError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw .invalidJSON(what: what, reason: describe(error))
        } catch {
            throw .invalidJSON(what: what, reason: "\(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            return p.isEmpty ? "" : " at " + p.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return c.debugDescription + path(c)
        case .keyNotFound(let key, let c):
            return "missing key '\(key.stringValue)'" + path(c)
        @unknown default:
            return "\(error)"
        }
    }
}

/// RFC 3339 timestamps as image configs write them.
public enum Timestamp {
    /// `2026-11-22T14:00:00Z` (fractional seconds when present).
    public static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// Whole-second form used with SOURCE_DATE_EPOCH.
    public static func rfc3339(epoch: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(epoch)))
    }
}
