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

/// RFC 3339 timestamps as image configs write them, formatted by hand in UTC (a Foundation
/// date formatter costs milliseconds to set up, which `run` pays on every start).
public enum Timestamp {
    /// `2026-11-22T14:00:00.123Z` (milliseconds, as docker and BuildKit write them).
    public static func rfc3339(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = Int64(interval.rounded(.down))
        var milliseconds = Int(((interval - Double(seconds)) * 1000).rounded())
        if milliseconds >= 1000 {
            seconds += 1
            milliseconds -= 1000
        }
        return format(seconds, fraction: "." + padded(Int64(max(milliseconds, 0)), width: 3) + "Z")
    }

    /// Whole-second form used with SOURCE_DATE_EPOCH.
    public static func rfc3339(epoch: Int64) -> String {
        format(epoch, fraction: "Z")
    }

    private static func format(_ seconds: Int64, fraction: String) -> String {
        // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = seconds - days * 86400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return padded(year, width: 4) + "-" + padded(month, width: 2) + "-" + padded(day, width: 2) + "T"
            + padded(secondOfDay / 3600, width: 2) + ":" + padded((secondOfDay / 60) % 60, width: 2) + ":"
            + padded(secondOfDay % 60, width: 2) + fraction
    }

    /// `value` in decimal, zero-padded to `width` digits (as `%0*lld`; no Foundation formatting,
    /// which costs protocol conformance look-ups on every start of berth).
    static func padded(_ value: Int64, width: Int) -> String {
        let digits = String(value.magnitude)
        let sign = value < 0 ? "-" : ""
        let zeros = max(0, width - sign.count - digits.count)
        return sign + String(repeating: "0", count: zeros) + digits
    }
}
