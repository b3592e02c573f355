import Foundation

/// A username and password (or identity token) for a registry.
public struct RegistryCredentials: Sendable, Equatable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
}

/// docker's client configuration (`$DOCKER_CONFIG/config.json`, default `~/.docker/config.json`):
/// `auths` (base64 `user:password` per registry), `credHelpers` and `credsStore` (executables
/// named `docker-credential-<helper>`). berth reads and writes the same file, so `docker login`
/// and `berth login` share credentials.
public struct DockerConfig: Sendable {
    public let path: String

    /// The config file in effect.
    public init(path: String? = nil) {
        if let path {
            self.path = path
        } else if let directory = ProcessInfo.processInfo.environment["DOCKER_CONFIG"], !directory.isEmpty {
            self.path = directory + "/config.json"
        } else {
            let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
            self.path = home + "/.docker/config.json"
        }
    }

    /// The key docker uses for a registry: docker.io is `https://index.docker.io/v1/`.
    public static func key(for registry: String) -> String {
        registry == "docker.io" ? "https://index.docker.io/v1/" : registry
    }

    func load() -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        return Self.parse(data)
    }

    /// The top-level object of a config file's bytes; anything else (not JSON, not an object)
    /// reads as an empty config, as docker treats a missing file.
    static func parse(_ data: Data) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    /// The credentials stored for `registry`: a credential helper's, else `auths`.
    public func credentials(for registry: String) -> RegistryCredentials? {
        Self.credentials(in: load(), for: registry, helper: Self.fromHelper)
    }

    /// The credentials `config` (a parsed config file) gives for `registry`: those of the
    /// credential helper named for it (or `credsStore`), asked through `helper(name, key)`, else
    /// an `auths` entry (`auth` as base64 `user:password`, or `username` and `password`).
    static func credentials(
        in config: [String: Any], for registry: String, helper: (String, String) -> RegistryCredentials?
    ) -> RegistryCredentials? {
        let key = Self.key(for: registry)
        let helpers = config["credHelpers"] as? [String: String] ?? [:]
        if let name = helpers[key] ?? helpers[registry] ?? (config["credsStore"] as? String),
            let found = helper(name, key)
        {
            return found
        }
        let auths = config["auths"] as? [String: Any] ?? [:]
        let candidates = [key, registry, "https://" + registry, "http://" + registry]
        for candidate in candidates {
            guard let entry = auths[candidate] as? [String: Any] else { continue }
            if let auth = entry["auth"] as? String, let data = Data(base64Encoded: auth),
                let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
            {
                return RegistryCredentials(
                    username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
            }
            if let user = entry["username"] as? String, let password = entry["password"] as? String {
                return RegistryCredentials(username: user, password: password)
            }
        }
        return nil
    }

    /// Stores credentials for `registry` in `auths` (the file is created 0600).
    public func store(_ credentials: RegistryCredentials, for registry: String) throws {
        try write(Self.storing(credentials, for: registry, in: load()))
    }

    /// `config` with `registry`'s `auths` entry replaced by `credentials`; the rest kept.
    static func storing(_ credentials: RegistryCredentials, for registry: String, in config: [String: Any])
        -> [String: Any]
    {
        var config = config
        var auths = config["auths"] as? [String: Any] ?? [:]
        let token = Data("\(credentials.username):\(credentials.password)".utf8).base64EncodedString()
        auths[Self.key(for: registry)] = ["auth": token]
        config["auths"] = auths
        return config
    }

    /// Forgets `registry`'s credentials; false when there were none.
    @discardableResult
    public func remove(for registry: String) throws -> Bool {
        var config = load()
        var auths = config["auths"] as? [String: Any] ?? [:]
        guard auths.removeValue(forKey: Self.key(for: registry)) != nil else { return false }
        config["auths"] = auths
        try write(config)
        return true
    }

    private func write(_ config: [String: Any]) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let data = try Self.serialize(config)
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600])
        else { throw RegistryError.invalid(registry: "", detail: "cannot write \(path)") }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw RegistryError.invalid(registry: "", detail: "cannot write \(path)")
        }
    }

    /// The bytes written for `config`: pretty-printed with sorted keys, as docker writes it.
    static func serialize(_ config: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
    }

    /// `docker-credential-<helper> get` with the registry on stdin → {"Username","Secret"}.
    static func fromHelper(_ helper: String, key: String) -> RegistryCredentials? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["docker-credential-\(helper)", "get"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        input.fileHandleForWriting.write(Data(key.utf8))
        try? input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return helperCredentials(data)
    }

    /// A credential helper's answer, `{"ServerURL": …, "Username": …, "Secret": …}`.
    static func helperCredentials(_ data: Data) -> RegistryCredentials? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let user = object["Username"] as? String, let secret = object["Secret"] as? String
        else { return nil }
        return RegistryCredentials(username: user, password: secret)
    }
}
