/// Errors raised while validating or decoding OCI image data.
public enum OCIError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidDigest(String, reason: String)
    case invalidReference(String, reason: String)
    case invalidPlatform(String)
    case invalidJSON(what: String, reason: String)
    case unsupportedMediaType(String)

    public var description: String {
        switch self {
        case .invalidDigest(let value, let reason): "invalid digest '\(value)': \(reason)"
        case .invalidReference(let value, let reason): "invalid image reference '\(value)': \(reason)"
        case .invalidPlatform(let value): "invalid platform '\(value)'"
        case .invalidJSON(let what, let reason): "invalid \(what): \(reason)"
        case .unsupportedMediaType(let type): "unsupported media type '\(type)'"
        }
    }
}
