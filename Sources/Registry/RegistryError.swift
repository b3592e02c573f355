import Foundation

/// Registry failures, each naming the registry (and the object) involved.
public enum RegistryError: Error, Sendable, CustomStringConvertible {
    /// The registry could not be reached.
    case unreachable(registry: String, detail: String)
    /// Credentials were missing or refused.
    case unauthorized(registry: String, detail: String)
    /// The registry answered with an unexpected status.
    case http(registry: String, method: String, url: String, status: Int, detail: String)
    /// Content did not match its digest: nothing was stored.
    case digestMismatch(registry: String, what: String, expected: String, actual: String)
    /// The manifest or image is not in the registry.
    case notFound(registry: String, reference: String)
    /// No manifest in an index matches the wanted platform.
    case noMatchingPlatform(reference: String, wanted: String, available: [String])
    /// Something the registry sent cannot be used.
    case invalid(registry: String, detail: String)

    public var description: String {
        switch self {
        case .unreachable(let registry, let detail): "cannot reach registry \(registry): \(detail)"
        case .unauthorized(let registry, let detail): "authentication to registry \(registry) failed: \(detail)"
        case .http(let registry, let method, let url, let status, let detail):
            "registry \(registry) answered \(status) to \(method) \(url)" + (detail.isEmpty ? "" : ": \(detail)")
        case .digestMismatch(let registry, let what, let expected, let actual):
            "\(what) from registry \(registry) has digest \(actual), expected \(expected); refused, nothing stored"
        case .notFound(let registry, let reference): "\(reference) not found in registry \(registry)"
        case .noMatchingPlatform(let reference, let wanted, let available):
            "\(reference) has no image for platform \(wanted) (it has: \(available.joined(separator: ", ")))"
        case .invalid(let registry, let detail): "registry \(registry): \(detail)"
        }
    }
}
