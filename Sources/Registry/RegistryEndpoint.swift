import Foundation
import OCIImage

/// Where a registry is reached and how: the host to talk to for an image reference, the scheme,
/// and the distribution API URLs of its repository.
public struct RegistryEndpoint: Sendable, Equatable {
    /// The host (and port) from the reference, e.g. `docker.io` or `localhost:5000`.
    public var registry: String
    /// The host actually contacted (docker.io is served by registry-1.docker.io).
    public var host: String
    /// `https`, or `http` for loopback registries and ones the user marked insecure.
    public var scheme: String
    public var repository: String

    /// The endpoint for `reference`; `insecureRegistries` lists hosts to reach over plain HTTP.
    public init(reference: ImageReference, insecureRegistries: Set<String> = []) {
        registry = reference.registry
        host = reference.registry == ImageReference.defaultRegistry ? "registry-1.docker.io" : reference.registry
        repository = reference.repository
        scheme = Self.allowsPlainHTTP(reference.registry, insecure: insecureRegistries) ? "http" : "https"
    }

    /// True for localhost, 127.0.0.0/8, ::1 and registries named insecure.
    public static func allowsPlainHTTP(_ registry: String, insecure: Set<String>) -> Bool {
        if insecure.contains(registry) { return true }
        var host = registry
        if host.hasPrefix("["), let end = host.firstIndex(of: "]") {
            host = String(host[host.index(after: host.startIndex)..<end])
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        if host == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".")
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    var base: String { "\(scheme)://\(host)/v2" }

    /// `GET /v2/`: version check and auth discovery.
    public var pingURL: URL? { URL(string: base + "/") }

    /// `/v2/<name>/manifests/<tag or digest>`.
    public func manifestURL(_ reference: String) -> URL? {
        URL(string: "\(base)/\(repository)/manifests/\(reference)")
    }

    /// `/v2/<name>/blobs/<digest>`.
    public func blobURL(_ digest: Digest) -> URL? {
        URL(string: "\(base)/\(repository)/blobs/\(digest)")
    }

    /// `/v2/<name>/blobs/uploads/` (optionally mounting `mount` from `from`).
    public func uploadURL(mount: Digest? = nil, from: String? = nil) -> URL? {
        var text = "\(base)/\(repository)/blobs/uploads/"
        if let mount, let from {
            text +=
                "?mount=\(mount)&from=\(from.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charset: "/-._"))) ?? from)"
        }
        return URL(string: text)
    }
}

extension CharacterSet {
    init(charset: String) {
        self.init(charactersIn: charset)
    }
}
