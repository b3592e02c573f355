import Foundation

/// SOURCE_DATE_EPOCH (reproducible-builds.org): a fixed time, in seconds since the epoch, used
/// for `created` and to clamp file mtimes in layers, so the same inputs give the same image id.
public enum SourceDateEpoch {
    /// Parses the variable's value; `origin` names where it came from for the error.
    public static func parse(_ text: String, origin: String) throws -> Int64 {
        guard let value = Int64(text.trimmingCharacters(in: .whitespaces)), value >= 0 else {
            throw BuildError("invalid \(origin) '\(text)': expected whole seconds since 1970-01-01 UTC")
        }
        return value
    }

    /// The value of `SOURCE_DATE_EPOCH` in berth's environment, if set and valid.
    public static var fromEnvironment: Date? {
        guard let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !text.isEmpty,
            let value = try? parse(text, origin: "SOURCE_DATE_EPOCH")
        else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(value))
    }
}
