import Foundation
import OCIImage

/// Site settings for registries: hosts reached over plain HTTP and mirrors for docker.io, from
/// `--insecure-registry`, `$BERTH_INSECURE_REGISTRIES` (comma-separated) and the JSON file
/// `$BERTH_REGISTRIES_CONFIG` (default /etc/berth/registries.json):
/// `{"insecure-registries": ["host:port"], "registry-mirrors": ["http://mirror:5000"]}`.
public struct RegistrySettings: Sendable, Equatable {
    public var insecureRegistries: Set<String>
    /// Tried in order for docker.io before docker.io itself.
    public var mirrors: [URL]
    public var dockerConfig: String?

    public init(insecureRegistries: Set<String> = [], mirrors: [URL] = [], dockerConfig: String? = nil) {
        self.insecureRegistries = insecureRegistries
        self.mirrors = mirrors
        self.dockerConfig = dockerConfig
    }

    /// Settings from the environment and the config file, plus `insecure` from the command line.
    public static func load(insecure: [String] = []) -> RegistrySettings {
        let environment = ProcessInfo.processInfo.environment
        var settings = RegistrySettings(insecureRegistries: Set(insecure))
        if let list = environment["BERTH_INSECURE_REGISTRIES"] {
            settings.insecureRegistries.formUnion(list.split(separator: ",").map(String.init))
        }
        let path = environment["BERTH_REGISTRIES_CONFIG"] ?? "/etc/berth/registries.json"
        if let data = FileManager.default.contents(atPath: path),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            settings.insecureRegistries.formUnion(object["insecure-registries"] as? [String] ?? [])
            settings.mirrors = (object["registry-mirrors"] as? [String] ?? []).compactMap { URL(string: $0) }
        }
        return settings
    }

    /// The endpoints to try for `reference`: mirrors first for docker.io images.
    public func endpoints(for reference: ImageReference) -> [RegistryEndpoint] {
        let direct = RegistryEndpoint(reference: reference, insecureRegistries: insecureRegistries)
        guard reference.registry == ImageReference.defaultRegistry else { return [direct] }
        return mirrors.compactMap { url in
            guard let host = url.host else { return nil }
            var mirror = direct
            mirror.host = url.port.map { "\(host):\($0)" } ?? host
            mirror.scheme = url.scheme ?? "https"
            return mirror
        } + [direct]
    }

    /// Credentials for `registry` from docker's config file.
    public func credentials(for registry: String) -> RegistryCredentials? {
        DockerConfig(path: dockerConfig).credentials(for: registry)
    }
}
