import Foundation
import ImageStore
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// A client of one repository in an OCI distribution registry: authentication (anonymous, basic,
/// bearer tokens from the realm the registry names, cached per scope and fetched again on 401),
/// manifests and blobs, every digest verified.
public actor RegistryClient {
    public nonisolated let endpoint: RegistryEndpoint
    let credentials: RegistryCredentials?
    private var tokens: [String: String] = [:]
    private var useBasic = false

    /// `credentials` are sent only when the registry asks for them.
    public init(endpoint: RegistryEndpoint, credentials: RegistryCredentials?) {
        self.endpoint = endpoint
        self.credentials = credentials
    }

    /// The scope for pulling, or pulling and pushing, this repository.
    public var pullScope: String { "repository:\(endpoint.repository):pull" }
    public var pushScope: String { "repository:\(endpoint.repository):pull,push" }
    nonisolated var registry: String { endpoint.registry }

    typealias Body = HTTPTransport.Body
    typealias Response = HTTPTransport.Response

    /// Manifests and indexes larger than this are refused (what registries accept too).
    static let manifestLimit = 4 << 20

    // MARK: - API

    /// `GET /v2/`: checks the registry answers and the credentials (if any) are accepted.
    public func ping() async throws {
        guard let url = endpoint.pingURL else { throw RegistryError.invalid(registry: registry, detail: "bad URL") }
        let response = try await perform("GET", url, scope: "")
        guard response.status == 200 else { throw httpError("GET", url, response) }
    }

    /// Fetches a manifest or index by tag or digest; verifies its digest. Returns the bytes, the
    /// media type and the digest.
    public func manifest(_ reference: String, accept: [String]) async throws -> (
        data: Data, mediaType: String, digest: Digest
    ) {
        guard let url = endpoint.manifestURL(reference) else {
            throw RegistryError.invalid(registry: registry, detail: "bad reference \(reference)")
        }
        let response = try await perform(
            "GET", url, headers: ["Accept": accept.joined(separator: ", ")], scope: pullScope,
            limit: Self.manifestLimit)
        if response.status == 404 { throw RegistryError.notFound(registry: registry, reference: reference) }
        guard response.status == 200 else { throw httpError("GET", url, response) }
        guard response.data.count <= Self.manifestLimit else {
            throw RegistryError.invalid(registry: registry, detail: "manifest \(reference) is larger than 4 MiB")
        }
        let actual = Digest.sha256(of: Array(response.data))
        let expected =
            reference.hasPrefix("sha256:")
            ? reference : response.headers["docker-content-digest"] ?? actual.description
        guard actual.description == expected else {
            throw RegistryError.digestMismatch(
                registry: registry, what: "manifest \(reference)", expected: expected, actual: actual.description)
        }
        let mediaType =
            response.headers["content-type"]?.split(separator: ";").first.map {
                $0.trimmingCharacters(in: .whitespaces)
            } ?? ""
        return (response.data, mediaType, actual)
    }

    /// True when the repository already has `digest`.
    public func blobExists(_ digest: Digest) async throws -> Bool {
        guard let url = endpoint.blobURL(digest) else { return false }
        let response = try await perform("HEAD", url, scope: pushScope)
        switch response.status {
        case 200: return true
        case 404: return false
        default: throw httpError("HEAD", url, response)
        }
    }

    /// Downloads blob `digest` to `path`, verifying it on the way; a mismatch removes the file.
    public func downloadBlob(_ digest: Digest, to path: String) async throws {
        guard let url = endpoint.blobURL(digest) else {
            throw RegistryError.invalid(registry: registry, detail: "bad URL")
        }
        let response = try await perform("GET", url, scope: pullScope, downloadTo: path)
        guard response.status == 200 else {
            unlink(path)
            if response.status == 404 {
                throw RegistryError.notFound(registry: registry, reference: digest.description)
            }
            throw httpError("GET", url, response)
        }
        let actual = try FileSystem.digest(ofFile: path).digest
        guard actual == digest else {
            unlink(path)
            throw RegistryError.digestMismatch(
                registry: registry, what: "blob", expected: digest.description, actual: actual.description)
        }
    }

    /// How a blob reached the repository.
    public enum UploadResult: Sendable, Equatable {
        case alreadyThere, mounted, uploaded
    }

    /// Uploads the blob at `path` unless the repository has it: first by mounting it from
    /// `mountFrom` (another repository of the same registry that has it), else monolithic
    /// (POST, then PUT with the body) or, past `chunkSize` bytes, in chunks (PATCH with
    /// Content-Range, then PUT with the digest).
    @discardableResult
    public func uploadBlob(
        _ digest: Digest, from path: String, mountFrom: String? = nil, chunkSize: Int = 64 << 20
    ) async throws -> UploadResult {
        if try await blobExists(digest) { return .alreadyThere }
        var scope = pushScope
        if let mountFrom { scope += " repository:\(mountFrom):pull" }
        guard let start = endpoint.uploadURL(mount: mountFrom == nil ? nil : digest, from: mountFrom) else {
            throw RegistryError.invalid(registry: registry, detail: "bad URL")
        }
        let opened = try await perform("POST", start, headers: ["Content-Length": "0"], scope: scope)
        if opened.status == 201 && mountFrom != nil { return .mounted }
        guard opened.status == 202, let location = opened.headers["location"],
            var session = URL(string: location, relativeTo: start)?.absoluteURL
        else { throw httpError("POST", start, opened) }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        if size > chunkSize {
            session = try await uploadChunks(path, size: size, chunkSize: chunkSize, to: session, scope: scope)
            try await finishUpload(session, digest: digest, body: .none, scope: scope)
            return .uploaded
        }
        try await finishUpload(
            session, digest: digest, body: .file(path: path, offset: 0, length: Int64(size)), scope: scope)
        return .uploaded
    }

    /// PATCHes the file in `chunkSize` pieces; returns the URL to finish the upload at.
    private func uploadChunks(_ path: String, size: Int, chunkSize: Int, to start: URL, scope: String) async throws
        -> URL
    {
        var session = start
        var offset = 0
        while offset < size {
            let count = min(chunkSize, size - offset)
            let response = try await perform(
                "PATCH", session,
                headers: [
                    "Content-Type": "application/octet-stream",
                    "Content-Range": "\(offset)-\(offset + count - 1)",
                ], body: .file(path: path, offset: Int64(offset), length: Int64(count)), scope: scope)
            guard response.status == 202, let location = response.headers["location"],
                let next = URL(string: location, relativeTo: session)?.absoluteURL
            else { throw httpError("PATCH", session, response) }
            session = next
            offset += count
        }
        return session
    }

    private func finishUpload(_ session: URL, digest: Digest, body: Body, scope: String) async throws {
        var components = URLComponents(url: session, resolvingAgainstBaseURL: true)
        var query = components?.queryItems ?? []
        query.append(URLQueryItem(name: "digest", value: digest.description))
        components?.queryItems = query
        guard let finish = components?.url else {
            throw RegistryError.invalid(registry: registry, detail: "bad upload URL")
        }
        let put = try await perform(
            "PUT", finish, headers: ["Content-Type": "application/octet-stream"], body: body, scope: scope)
        guard put.status == 201 else { throw httpError("PUT", finish, put) }
    }

    /// Stores a manifest under `reference` (a tag); returns its digest.
    public func putManifest(_ data: Data, mediaType: String, reference: String) async throws -> Digest {
        guard let url = endpoint.manifestURL(reference) else {
            throw RegistryError.invalid(registry: registry, detail: "bad reference \(reference)")
        }
        let response = try await perform(
            "PUT", url, headers: ["Content-Type": mediaType], body: .data(data), scope: pushScope)
        guard response.status == 201 || response.status == 200 else { throw httpError("PUT", url, response) }
        return Digest.sha256(of: Array(data))
    }

    // MARK: - Requests and authentication

    /// Sends a request with the authorization in hand; on 401 authenticates as the challenge
    /// says and tries once more.
    func perform(
        _ method: String, _ url: URL, headers: [String: String] = [:], body: Body = .none, scope: String,
        downloadTo path: String? = nil, limit: Int? = nil
    ) async throws -> Response {
        for attempt in 0..<2 {
            var headers = headers
            if let authorization = authorization(scope) { headers["Authorization"] = authorization }
            let response = try await send(method, url, headers: headers, body: body, downloadTo: path, limit: limit)
            guard response.status == 401 else { return response }
            let answered =
                attempt == 0 ? try await authenticate(response.headers["www-authenticate"] ?? "", scope: scope) : false
            if !answered {
                throw RegistryError.unauthorized(
                    registry: registry,
                    detail: credentials == nil
                        ? "the registry wants credentials (berth login \(registry))"
                        : "wrong username or password for \(credentials?.username ?? "")")
            }
        }
        throw RegistryError.unauthorized(registry: registry, detail: "refused")
    }

    private func authorization(_ scope: String) -> String? {
        if let token = tokens[scope] { return "Bearer " + token }
        if useBasic, let credentials {
            return "Basic " + Data("\(credentials.username):\(credentials.password)".utf8).base64EncodedString()
        }
        return nil
    }

    /// Answers a challenge; false when there is nothing more to try.
    private func authenticate(_ header: String, scope: String) async throws -> Bool {
        let challenges = AuthChallenge.parse(header)
        if let bearer = challenges.first(where: { $0.scheme == "bearer" }), let realm = bearer.realm,
            var components = URLComponents(string: realm)
        {
            var query = components.queryItems ?? []
            if let service = bearer.service { query.append(URLQueryItem(name: "service", value: service)) }
            let wanted = scope.isEmpty ? bearer.scope : scope
            if let wanted, !wanted.isEmpty { query.append(URLQueryItem(name: "scope", value: wanted)) }
            if let credentials { query.append(URLQueryItem(name: "account", value: credentials.username)) }
            components.queryItems = query
            guard let url = components.url else { return false }
            var headers: [String: String] = [:]
            if let credentials {
                headers["Authorization"] =
                    "Basic " + Data("\(credentials.username):\(credentials.password)".utf8).base64EncodedString()
            }
            let response = try await send("GET", url, headers: headers, body: .none, downloadTo: nil, limit: 1 << 20)
            guard response.status == 200 else {
                throw RegistryError.unauthorized(
                    registry: registry,
                    detail: response.status == 401
                        ? "wrong username or password" + (credentials.map { " for \($0.username)" } ?? "")
                        : "token server \(realm) answered \(response.status)")
            }
            guard let token = RegistryResponses.token(fromTokenResponse: response.data) else {
                throw RegistryError.unauthorized(registry: registry, detail: "token server \(realm) sent no token")
            }
            tokens[scope] = token
            return true
        }
        if challenges.contains(where: { $0.scheme == "basic" }) {
            // Another request may have switched to basic already: try once more with it.
            guard credentials != nil else { return false }
            useBasic = true
            return true
        }
        return false
    }

    /// One HTTP exchange (downloads go straight to `path`); answers over `limit` bytes are refused.
    private func send(
        _ method: String, _ url: URL, headers: [String: String], body: Body, downloadTo path: String?, limit: Int?
    ) async throws -> Response {
        do {
            return try await HTTPTransport.send(
                method, url, headers: headers, body: body, downloadTo: path, limit: limit)
        } catch {
            if error.tooLarge, let limit {
                throw RegistryError.invalid(
                    registry: registry,
                    detail: "\(method) \(url.path): the answer is larger than \(Self.sizeText(limit)), refused")
            }
            throw RegistryError.unreachable(registry: registry, detail: error.description)
        }
    }

    /// `4 MiB`, `64 KiB`.
    static func sizeText(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes >> 10) KiB"
    }

    private func httpError(_ method: String, _ url: URL, _ response: Response) -> RegistryError {
        let detail = RegistryResponses.errorDetail(response.data)
        return .http(
            registry: registry, method: method, url: url.absoluteString, status: response.status, detail: detail)
    }
}
