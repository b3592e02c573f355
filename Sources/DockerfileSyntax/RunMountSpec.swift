/// One `RUN --mount=…` value, parsed from BuildKit's CSV syntax
/// (`type=cache,target=/root/.cache,sharing=locked`).
///
/// Keys and defaults follow BuildKit's Dockerfile frontend: `type` is `bind` unless given;
/// `target`/`dst`/`destination`, `source`/`src`, `from`, `id`, `sharing` (cache only), `mode`
/// (octal), `uid`, `gid` (cache, secret and ssh), `ro`/`readonly`, `rw`/`readwrite`,
/// `required` (secret and ssh), `size` (tmpfs) and `env` (secret). Bind and secret mounts are
/// read-only by default, cache and tmpfs mounts read-write.
public struct RunMountSpec: Sendable, Equatable, Codable {
    public enum MountType: String, Sendable, Codable, CaseIterable {
        case bind, cache, tmpfs, secret, ssh
    }

    /// How concurrent builds share one cache mount.
    public enum Sharing: String, Sendable, Codable, CaseIterable {
        /// Every user sees the same directory at once.
        case shared
        /// A user that finds the directory in use gets a fresh, empty one.
        case `private`
        /// Users wait for each other.
        case locked
    }

    public var type: MountType = .bind
    /// Where it appears in the container, as written (relative paths are under the working directory).
    public var target: String?
    /// A path inside `from` (bind, cache) or the secret's id (secret).
    public var source: String?
    /// A stage name or index, or an image reference (bind, cache).
    public var from: String?
    /// The cache, secret or ssh id.
    public var id: String?
    public var sharing: Sharing?
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var readOnly: Bool = true
    public var required: Bool = false
    /// tmpfs size limit in bytes.
    public var size: Int64?
    /// secret: the environment variable that receives the secret.
    public var env: String?

    public init(type: MountType = .bind) {
        self.type = type
        readOnly = !(type == .cache || type == .tmpfs)
    }

    /// Parses one `--mount` value. `expand` expands a value's variables (BuildKit expands every
    /// value with the stage's ARG and ENV); with nil, values that contain `$` are only checked
    /// for the key, not interpreted (the planner's syntax check before anything runs).
    public static func parse(
        _ text: String, expand: ((String) throws -> String)? = nil
    ) throws(RunMountError) -> RunMountSpec {
        var spec = RunMountSpec()
        var readOnlyGiven = false
        let fields = try csvFields(text)
        for field in fields {
            // Split at the first "=" scalar (a combining mark after it is part of the value).
            let scalars = field.unicodeScalars
            guard let equals = scalars.firstIndex(of: "=") else {
                guard !field.isEmpty else { continue }
                switch field.lowercased() {
                case "readonly", "ro":
                    spec.readOnly = true
                    readOnlyGiven = true
                case "readwrite", "rw":
                    spec.readOnly = false
                    readOnlyGiven = true
                case "required":
                    guard spec.type == .secret || spec.type == .ssh else {
                        throw RunMountError("unexpected key 'required' for mount type '\(spec.type.rawValue)'")
                    }
                    spec.required = true
                default:
                    throw RunMountError("invalid field '\(field)' must be a key=value pair")
                }
                continue
            }
            let key = String(scalars[..<equals]).lowercased()
            let raw = String(scalars[scalars.index(after: equals)...])
            let value: String
            let deferred: Bool
            if let expand {
                do { value = try expand(raw) } catch {
                    throw RunMountError("cannot expand '\(field)': \(error)")
                }
                deferred = false
            } else {
                value = raw
                deferred = raw.unicodeScalars.contains("$")
            }
            switch key {
            case "type":
                if deferred { continue }
                guard let type = MountType(rawValue: value.lowercased()) else {
                    throw RunMountError(
                        "unsupported mount type \"\(value)\" (use bind, cache, tmpfs, secret or ssh)")
                }
                spec.type = type
            case "from": spec.from = value
            case "source", "src": spec.source = value
            case "target", "dst", "destination": spec.target = value
            case "id": spec.id = value
            case "readonly", "ro", "readwrite", "rw":
                if deferred { continue }
                guard let flag = Self.bool(value) else {
                    throw RunMountError("invalid value '\(value)' for '\(key)': expected true or false")
                }
                spec.readOnly = key == "readonly" || key == "ro" ? flag : !flag
                readOnlyGiven = true
            case "required":
                guard spec.type == .secret || spec.type == .ssh else {
                    throw RunMountError("unexpected key 'required' for mount type '\(spec.type.rawValue)'")
                }
                if deferred { continue }
                guard let flag = Self.bool(value) else {
                    throw RunMountError("invalid value '\(value)' for 'required': expected true or false")
                }
                spec.required = flag
            case "sharing":
                guard spec.type == .cache else {
                    throw RunMountError("invalid cache sharing set for \(spec.type.rawValue) mount")
                }
                if deferred { continue }
                guard let sharing = Sharing(rawValue: value.lowercased()) else {
                    throw RunMountError("unsupported sharing value \"\(value)\" (use shared, private or locked)")
                }
                spec.sharing = sharing
            case "mode":
                if deferred { continue }
                guard let mode = UInt32(value, radix: 8), mode <= 0o7777 else {
                    throw RunMountError("invalid mode '\(value)': expected octal permissions such as 0755")
                }
                spec.mode = mode
            case "uid", "gid":
                if deferred { continue }
                guard let number = UInt32(value) else {
                    throw RunMountError("invalid \(key) '\(value)': expected a number")
                }
                if key == "uid" { spec.uid = number } else { spec.gid = number }
            case "size":
                guard spec.type == .tmpfs else {
                    throw RunMountError("unexpected key 'size' for mount type '\(spec.type.rawValue)'")
                }
                if deferred { continue }
                guard let bytes = Self.byteSize(value) else {
                    throw RunMountError("invalid size '\(value)': expected bytes or a size such as 64m")
                }
                spec.size = bytes
            case "env":
                guard spec.type == .secret else {
                    throw RunMountError("unexpected key 'env' for mount type '\(spec.type.rawValue)'")
                }
                spec.env = value
            default:
                throw RunMountError(
                    "unexpected key '\(key)' in '\(field)' (known keys: type, target, source, from, id, sharing, mode, uid, gid, readonly, readwrite, required, size, env)"
                )
            }
        }
        let lenient = expand == nil && text.unicodeScalars.contains("$")
        if !readOnlyGiven { spec.readOnly = !(spec.type == .cache || spec.type == .tmpfs) }
        if spec.type == .bind || spec.type == .tmpfs {
            if spec.mode != nil { throw RunMountError("mode not allowed for \"\(spec.type.rawValue)\" type mounts") }
            if spec.uid != nil { throw RunMountError("uid not allowed for \"\(spec.type.rawValue)\" type mounts") }
            if spec.gid != nil { throw RunMountError("gid not allowed for \"\(spec.type.rawValue)\" type mounts") }
        }
        switch spec.type {
        case .secret:
            if spec.from != nil { throw RunMountError("secret mount should not have a from") }
            if spec.source != nil, spec.id != nil { throw RunMountError("both source and id can't be set") }
            if spec.source == nil, spec.id == nil, spec.target == nil, spec.env == nil {
                throw RunMountError("one of source, id, target or env required for a secret mount")
            }
        case .ssh:
            if spec.from != nil { throw RunMountError("ssh mount should not have a from") }
        case .tmpfs:
            if spec.from != nil || spec.source != nil {
                throw RunMountError("tmpfs mount should not have a from or source")
            }
            if spec.target == nil, !lenient { throw RunMountError("invalid mount target \"/\": target required") }
        case .bind, .cache:
            if spec.target == nil, !lenient { throw RunMountError("invalid mount target \"/\": target required") }
        }
        return spec
    }

    /// The secret's id: `id`, else `source`, else the target's base name (BuildKit's order).
    public var secretID: String? {
        if let id, !id.isEmpty { return id }
        if let source, !source.isEmpty { return source }
        if let env, target == nil { return env }
        return target.flatMap { $0.split(separator: "/").last.map(String.init) }
    }

    static func bool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "1", "t", "true": true
        case "0", "f", "false": false
        default: nil
        }
    }

    /// Sizes as BuildKit's tmpfs `size` takes them: bytes, or a number with k, m, g, t (binary).
    static func byteSize(_ text: String) -> Int64? {
        let lower = text.lowercased()
        let digits = lower.prefix { $0.isNumber || $0 == "." }
        guard !digits.isEmpty, let number = Double(digits) else { return nil }
        var unit = lower.dropFirst(digits.count)
        if unit.hasSuffix("ib") {
            unit = unit.dropLast(2)
        } else if unit.count > 1, unit.hasSuffix("b") {
            unit = unit.dropLast()
        }
        let powers: [Substring: Double] = ["": 0, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4]
        guard let power = powers[unit] else { return nil }
        let bytes = number * pow1024(power)
        guard bytes < Double(Int64.max) else { return nil }
        return Int64(bytes)
    }

    private static func pow1024(_ power: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(power) { result *= 1024 }
        return result
    }

    /// Splits a CSV record: commas separate fields; a double-quoted part may contain commas,
    /// and `""` inside quotes is a quote.
    static func csvFields(_ text: String) throws(RunMountError) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        // Scalars, as Go's encoding/csv reads runes (a combining mark after a quote or a comma
        // would otherwise hide it inside one Character).
        var characters = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        while let c = pending ?? characters.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let next = characters.next() {
                        if next == "\"" {
                            current.append("\"")
                        } else {
                            quoted = false
                            pending = next
                        }
                    } else {
                        quoted = false
                    }
                } else {
                    current.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                fields.append(current)
                current = ""
            } else {
                current.unicodeScalars.append(c)
            }
        }
        if quoted { throw RunMountError("unterminated quote in '\(text)'") }
        fields.append(current)
        return fields.map { $0.trimmingSpaces() }
    }
}

/// A `--mount` value that cannot be used.
public struct RunMountError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var slice = Substring(self)
        while slice.first == " " || slice.first == "\t" { slice = slice.dropFirst() }
        while slice.last == " " || slice.last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
