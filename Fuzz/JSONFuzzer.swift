// libFuzzer entry point for the JSON berth reads from untrusted sources: registry manifests,
// indexes (OCI index, Docker manifest list, an OCI layout's index.json) and image configs
// (pull, load, cache import), a `docker save` manifest.json (load), token server answers and
// error bodies (registry client), docker's config.json and credential helper answers (login),
// plus the WWW-Authenticate challenge parser and image reference / digest parsing they feed.
//
// Built by Fuzz/run-json-fuzzer.sh into the module Registry together with the Registry sources
// that do not need the store (DockerConfig, RegistryResponses, AuthChallenge, RegistryError) and
// the OCIImage module; not part of `make test`.
//
// Every decoder berth uses is given the same bytes. What decodes is checked (a violation traps,
// which libFuzzer reports as a crash):
//   - canonical round trip: decode(encode(x)) == x, and encoding that again gives the same bytes
//     (image ids and manifest digests are digests of these bytes);
//   - every digest reparses to itself and is safe as a file name (berth makes blob paths of it);
//   - the validation berth does after decoding runs without trapping: media type checks, chain
//     ids of the diff IDs, platform strings, image references of RepoTags and annotations
//     (which reparse to themselves);
//   - docker config.json: storing credentials into the parsed file, serializing it and reading
//     it back gives the stored credentials, whatever else the file held.

import Foundation
import OCIImage

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    FuzzJSON.check(bytes)
    return 0
}

/// A check whose message survives -O (precondition's does not).
func require(_ condition: Bool, _ message: @autoclosure () -> String = "") {
    if !condition { fatalError(message()) }
}

enum FuzzJSON {
    static func check(_ bytes: [UInt8]) {
        if let manifest = try? CanonicalJSON.decode(Manifest.self, from: bytes, what: "manifest") {
            roundTrip(manifest)
            _ = MediaType.isManifest(manifest.mediaType ?? "")
            for descriptor in [manifest.config] + manifest.layers { checkDescriptor(descriptor) }
            _ = manifest.layers.filter { MediaType.isGzipLayer($0.mediaType) }.count
        }
        if let index = try? CanonicalJSON.decode(Index.self, from: bytes, what: "index") {
            roundTrip(index)
            _ = MediaType.isIndex(index.mediaType ?? "")
            for descriptor in index.manifests {
                checkDescriptor(descriptor)
                _ = MediaType.isIndex(descriptor.mediaType) || MediaType.isManifest(descriptor.mediaType)
                // Names an OCI layout gives its images (load tags them).
                for key in ["io.containerd.image.name", "org.opencontainers.image.ref.name"] {
                    if let name = descriptor.annotations?[key] { checkReference(name) }
                }
            }
        }
        if let config = try? CanonicalJSON.decode(ImageConfig.self, from: bytes, what: "image config") {
            roundTrip(config)
            let chain = config.rootfs.chainIDs
            require(chain.count == config.rootfs.diffIDs.count)
            require(chain.first == config.rootfs.diffIDs.first)
            for digest in config.rootfs.diffIDs { checkDigest(digest) }
            _ = config.platform.description
            _ = config.config?.environmentValue("PATH")
            var copy = config.config ?? ContainerConfig()
            copy.setEnvironment("PATH", "/bin")
            require(copy.environmentValue("PATH") == "/bin")
        }
        if let entries = try? DockerArchiveManifest.decode(bytes, what: "manifest.json") {
            roundTrip(entries)
            for entry in entries {
                for tag in entry.repoTags ?? [] { checkReference(tag) }
            }
        }

        let data = Data(bytes)
        _ = RegistryResponses.token(fromTokenResponse: data)
        _ = RegistryResponses.errorDetail(data)
        _ = DockerConfig.helperCredentials(data)
        checkDockerConfig(DockerConfig.parse(data))

        let text = String(decoding: bytes, as: UTF8.self)
        for challenge in AuthChallenge.parse(text) {
            require(challenge.scheme == challenge.scheme.lowercased())
            _ = (challenge.realm, challenge.service, challenge.scope)
        }
        if let digest = try? Digest(parsing: text) { checkDigest(digest) }
        checkReference(text)
        _ = try? Platform(parsing: text)
    }

    /// decode(encode(x)) == x, and the canonical bytes are stable.
    static func roundTrip<T: Codable & Equatable>(_ value: T) {
        let name = String(describing: T.self)
        guard let encoded = try? CanonicalJSON.encode(value) else {
            fatalError("\(name) decoded but does not encode")
        }
        let decoded: T
        do {
            decoded = try CanonicalJSON.decode(T.self, from: encoded, what: name)
        } catch {
            fatalError(
                "\(name) does not decode from its own encoding \(String(decoding: encoded, as: UTF8.self)): \(error)")
        }
        require(decoded == value, "\(name) changes in a round trip: \(String(decoding: encoded, as: UTF8.self))")
        guard let again = try? CanonicalJSON.encode(decoded), again == encoded else {
            fatalError("\(name)'s canonical encoding is not stable: \(String(decoding: encoded, as: UTF8.self))")
        }
    }

    static func checkDescriptor(_ descriptor: Descriptor) {
        checkDigest(descriptor.digest)
        _ = descriptor.platform?.description
        _ = MediaType.isGzipLayer(descriptor.mediaType)
    }

    /// A digest reparses to itself and makes a single, harmless path component.
    static func checkDigest(_ digest: Digest) {
        require((try? Digest(parsing: digest.description)) == digest, "digest \(digest) does not reparse")
        require(
            !digest.encoded.isEmpty && !digest.encoded.contains("/") && digest.encoded != "."
                && digest.encoded != "..", "digest \(digest) is not a safe file name")
        require(digest.encoded.utf8.count == digest.algorithm.hexLength)
    }

    /// A reference that parses prints to a form that parses to the same reference.
    static func checkReference(_ text: String) {
        guard let reference = try? ImageReference(parsing: text) else { return }
        guard let again = try? ImageReference(parsing: reference.description) else {
            fatalError("reference '\(text)' prints as '\(reference.description)', which does not parse")
        }
        require(again == reference, "reference '\(text)' changes when reparsed: \(again)")
        _ = reference.familiarName
        if let digest = reference.digest { checkDigest(digest) }
    }

    /// Looking credentials up never asks a real helper here, and stored credentials read back.
    static func checkDockerConfig(_ config: [String: Any]) {
        var asked: [String] = []
        for registry in ["docker.io", "localhost:5000", "registry.example.com"] {
            _ = DockerConfig.credentials(in: config, for: registry) { name, key in
                asked.append(name + " " + key)
                return nil
            }
        }
        let stored = RegistryCredentials(username: "user", password: "pa:ss\u{e9}")
        let updated = DockerConfig.storing(stored, for: "localhost:5000", in: config)
        let bytes: Data
        do {
            bytes = try DockerConfig.serialize(updated)
        } catch {
            // JSONSerialization refuses some values it parsed (e.g. non-finite numbers): login
            // then fails with this error rather than losing the file.
            return
        }
        let reread = DockerConfig.parse(bytes)
        let found = DockerConfig.credentials(in: reread, for: "localhost:5000") { _, _ in nil }
        require(found == stored, "stored credentials read back as \(String(describing: found))")
    }
}
