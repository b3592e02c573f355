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
        guard let data = FileManager.default.contents(atPath: path),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        return object
    }

    /// The credentials stored for `registry`: a credential helper's, else `auths`.
    public func credentials(for registry: String) -> RegistryCredentials? {
        let config = load()
        let key = Self.key(for: registry)
        let helpers = config["credHelpers"] as? [String: String] ?? [:]
        if let helper = helpers[key] ?? helpers[registry] ?? (config["credsStore"] as? String),
            let found = Self.fromHelper(helper, key: key)
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
        var config = load()
        var auths = config["auths"] as? [String: Any] ?? [:]
        let token = Data("\(credentials.username):\(credentials.password)".utf8).base64EncodedString()
        auths[Self.key(for: registry)] = ["auth": token]
        config["auths"] = auths
        try write(config)
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
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600])
        else { throw RegistryError.invalid(registry: "", detail: "cannot write \(path)") }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw RegistryError.invalid(registry: "", detail: "cannot write \(path)")
        }
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
        guard process.terminationStatus == 0,
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: String],
            let user = object["Username"], let secret = object["Secret"]
        else { return nil }
        return RegistryCredentials(username: user, password: secret)
    }
}
