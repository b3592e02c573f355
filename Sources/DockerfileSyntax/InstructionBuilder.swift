import Foundation

/// Turns syntax-tree nodes into typed instructions, validating flags and argument counts the
/// way BuildKit's instruction layer does.
struct InstructionBuilder {
    let fileName: String
    let lines: [String]
    let escapeToken: Character

    static let instructions = [
        "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label",
        "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir",
    ]

    /// Flags each instruction accepts: name → (is boolean, may repeat).
    static let allowedFlags: [String: [String: (bool: Bool, repeats: Bool)]] = [
        "from": ["platform": (false, false)],
        "run": [
            "mount": (false, true), "network": (false, false), "security": (false, false), "device": (false, true),
        ],
        "copy": [
            "from": (false, false), "chown": (false, false), "chmod": (false, false), "link": (true, false),
            "parents": (true, false), "exclude": (false, true),
        ],
        "add": [
            "chown": (false, false), "chmod": (false, false), "link": (true, false), "parents": (true, false),
            "exclude": (false, true), "checksum": (false, false), "keep-git-dir": (true, false),
            "unpack": (true, false),
        ],
        "healthcheck": [
            "interval": (false, false), "timeout": (false, false), "start-period": (false, false),
            "start-interval": (false, false), "retries": (false, false),
        ],
    ]

    func error(_ node: Node, _ message: String, column: Int = 1) -> DockerfileError {
        let line = max(node.startLine, 1)
        return DockerfileError(
            fileName: fileName, line: line, column: column, message: message,
            sourceLine: line <= lines.count ? lines[line - 1] : nil)
    }

    func info(_ node: Node) -> CommandInfo {
        CommandInfo(
            keyword: node.value.uppercased(), original: node.original.trimming(.whitespaces),
            location: SourceRange(startLine: node.startLine, endLine: node.endLine))
    }

    /// Parsed `--flags`: string values (last wins), repeated values, booleans.
    struct Flags {
        var values: [String: String] = [:]
        var lists: [String: [String]] = [:]
        var bools: [String: Bool] = [:]
    }

    func flags(_ node: Node) throws(DockerfileError) -> Flags {
        let keyword = node.value.lowercased()
        let allowed = Self.allowedFlags[keyword] ?? [:]
        var result = Flags()
        var seen = Set<String>()
        for raw in node.flags {
            guard raw.hasPrefix("--") else { throw error(node, "invalid flag '\(raw)' for \(keyword.uppercased())") }
            let body = raw.unicodeScalars.dropFirst(2)
            let name = String(String.UnicodeScalarView(body.prefix { $0 != "=" }))
            let value: String? =
                body.contains("=") ? String(String.UnicodeScalarView(body.drop { $0 != "=" }.dropFirst())) : nil
            guard let spec = allowed[name] else {
                let column =
                    (node.original.range(of: raw).map {
                        node.original.distance(from: node.original.startIndex, to: $0.lowerBound)
                    } ?? 0) + 1
                let known = allowed.keys.sorted().map { "--\($0)" }.joined(separator: ", ")
                throw error(
                    node,
                    "unknown flag: --\(name) for \(keyword.uppercased())"
                        + (known.isEmpty ? " (it takes no flags)" : " (valid flags: \(known))"),
                    column: column)
            }
            if !spec.repeats && !seen.insert(name).inserted {
                throw error(node, "duplicate flag specified: --\(name)")
            }
            if spec.bool {
                switch value?.lowercased() {
                case nil, "true": result.bools[name] = true
                case "false": result.bools[name] = false
                default: throw error(node, "expecting boolean value for flag --\(name), not: \(value ?? "")")
                }
            } else {
                guard let value else { throw error(node, "missing a value on flag: --\(name)") }
                if spec.repeats {
                    result.lists[name, default: []].append(value)
                } else {
                    result.values[name] = value
                }
            }
        }
        return result
    }

    func requireNoFlags(_ node: Node) throws(DockerfileError) {
        _ = try flags(node)
    }

    func stage(_ node: Node) throws(DockerfileError) -> Stage {
        let parsed = try flags(node)
        let args = node.next.map(\.value)
        var name: String?
        switch args.count {
        case 1: break
        case 3 where args[1].lowercased() == "as":
            let lowered = args[2].lowercased()
            guard Self.isValidStageName(lowered) else {
                throw error(
                    node,
                    "invalid name for build stage: \"\(args[2])\", name can't start with a number or contain symbols")
            }
            name = lowered
        default:
            throw error(node, "FROM requires either one or three arguments (FROM image [AS name])")
        }
        return Stage(
            name: name, baseName: args[0], platform: parsed.values["platform"],
            original: node.original.trimming(.whitespaces),
            location: SourceRange(startLine: node.startLine, endLine: node.endLine), commands: [])
    }

    static func isValidStageName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }

    func command(_ node: Node) throws(DockerfileError) -> Command {
        let keyword = node.value.lowercased()
        let info = info(node)
        let args = node.next.map(\.value)
        func line() -> DockerfileSyntax.CommandLine {
            node.isJSON ? .exec(args) : .shell(args.first ?? "")
        }
        func requireArguments(_ minimum: Int = 1) throws(DockerfileError) {
            if args.count < minimum || (args.count == 1 && args[0].isEmpty && !node.isJSON) {
                throw error(
                    node,
                    "\(keyword.uppercased()) requires \(minimum == 1 ? "at least one argument" : "at least \(minimum) arguments")"
                )
            }
        }
        switch keyword {
        case "run":
            let parsed = try flags(node)
            try requireArguments()
            return .run(
                RunCommand(
                    info: info, command: line(),
                    heredocs: node.heredocs.map { Self.heredoc($0) }, mounts: parsed.lists["mount"] ?? [],
                    network: parsed.values["network"], security: parsed.values["security"],
                    devices: parsed.lists["device"] ?? []))
        case "copy", "add":
            let parsed = try flags(node)
            guard args.count >= 2 else {
                throw error(
                    node,
                    "\(keyword.uppercased()) requires at least two arguments, but only one was provided. Destination could not be determined"
                )
            }
            var heredocs = node.heredocs.makeIterator()
            var sources: [CopySource] = []
            for word in args.dropLast() {
                if !node.isJSON, (try? HeredocParsing.parse(word)) != nil, let heredoc = heredocs.next() {
                    sources.append(.heredoc(Self.heredoc(heredoc)))
                } else {
                    sources.append(.path(word))
                }
            }
            return .copy(
                CopyCommand(
                    info: info, isAdd: keyword == "add", sources: sources, destination: args[args.count - 1],
                    from: parsed.values["from"], chown: parsed.values["chown"], chmod: parsed.values["chmod"],
                    link: parsed.bools["link"] ?? false, parents: parsed.bools["parents"] ?? false,
                    excludes: parsed.lists["exclude"] ?? [], checksum: parsed.values["checksum"],
                    keepGitDir: parsed.bools["keep-git-dir"], unpack: parsed.bools["unpack"]))
        case "env", "label":
            try requireNoFlags(node)
            guard !args.isEmpty else { throw error(node, "\(keyword.uppercased()) requires at least one argument") }
            var pairs: [KeyValuePair] = []
            var index = 0
            while index + 1 < args.count {
                let key = args[index]
                guard !key.isEmpty else { throw error(node, "\(keyword.uppercased()) names can not be blank") }
                pairs.append(KeyValuePair(key: key, value: args[index + 1]))
                index += 3
            }
            return keyword == "env"
                ? .env(EnvCommand(info: info, pairs: pairs)) : .label(LabelCommand(info: info, pairs: pairs))
        case "arg":
            try requireNoFlags(node)
            guard !args.isEmpty else { throw error(node, "ARG requires at least one argument") }
            let declarations = args.map { word -> ArgDeclaration in
                let scalars = word.unicodeScalars
                if let eq = scalars.firstIndex(of: "=") {
                    return ArgDeclaration(
                        name: String(scalars[..<eq]), defaultValue: String(scalars[scalars.index(after: eq)...]))
                }
                return ArgDeclaration(name: word, defaultValue: nil)
            }
            for declaration in declarations where declaration.name.isEmpty {
                throw error(node, "ARG names can not be blank")
            }
            return .arg(ArgCommand(info: info, args: declarations))
        case "workdir", "user", "stopsignal", "maintainer":
            try requireNoFlags(node)
            guard let value = args.first, !value.isEmpty else {
                throw error(node, "\(keyword.uppercased()) requires exactly one argument")
            }
            switch keyword {
            case "workdir": return .workdir(WorkdirCommand(info: info, path: value))
            case "user": return .user(UserCommand(info: info, user: value))
            case "stopsignal": return .stopSignal(StopSignalCommand(info: info, signal: value))
            default: return .maintainer(MaintainerCommand(info: info, maintainer: value))
            }
        case "cmd":
            try requireNoFlags(node)
            return .cmd(CmdCommand(info: info, command: line()))
        case "entrypoint":
            try requireNoFlags(node)
            return .entrypoint(EntrypointCommand(info: info, command: line()))
        case "shell":
            try requireNoFlags(node)
            guard node.isJSON, !args.isEmpty else {
                throw error(node, "SHELL requires the arguments to be in JSON form, e.g. SHELL [\"/bin/bash\", \"-c\"]")
            }
            return .shell(ShellCommand(info: info, shell: args))
        case "expose":
            try requireNoFlags(node)
            try requireArguments()
            return .expose(ExposeCommand(info: info, ports: args))
        case "volume":
            try requireNoFlags(node)
            try requireArguments()
            return .volume(VolumeCommand(info: info, paths: args))
        case "healthcheck":
            return .healthcheck(try healthcheck(node, info: info))
        case "onbuild":
            try requireNoFlags(node)
            guard let nested = node.next.first?.children.first else {
                throw error(node, "ONBUILD requires at least one argument")
            }
            switch nested.value.lowercased() {
            case "onbuild": throw error(node, "chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
            case "from", "maintainer":
                throw error(node, "\(nested.value.uppercased()) isn't allowed as an ONBUILD trigger")
            default: break
            }
            let expression = nested.original.trimming(.whitespaces)
            return .onbuild(OnbuildCommand(info: info, expression: expression))
        default:
            let suggestion = Self.nearest(keyword)
            throw error(
                node,
                "unknown instruction: \(node.value.uppercased())"
                    + (suggestion.map { " (did you mean \($0.uppercased())?)" } ?? ""))
        }
    }

    func healthcheck(_ node: Node, info: CommandInfo) throws(DockerfileError) -> HealthcheckCommand {
        let parsed = try flags(node)
        guard let type = node.next.first?.value.uppercased() else {
            throw error(node, "HEALTHCHECK requires an argument (NONE or CMD)")
        }
        let rest = node.next.dropFirst().map(\.value)
        switch type {
        case "NONE":
            guard rest.isEmpty, node.flags.isEmpty else {
                throw error(node, "HEALTHCHECK NONE takes no arguments or flags")
            }
            return HealthcheckCommand(info: info, test: ["NONE"])
        case "CMD":
            guard !rest.isEmpty, !(rest.count == 1 && rest[0].isEmpty) else {
                throw error(node, "HEALTHCHECK CMD requires a command")
            }
            let test = node.isJSON ? ["CMD"] + rest : ["CMD-SHELL", rest[0]]
            func duration(_ name: String) throws(DockerfileError) -> Int64? {
                guard let text = parsed.values[name] else { return nil }
                guard let value = GoDuration.parse(text) else {
                    throw error(node, "invalid duration for --\(name): '\(text)'")
                }
                guard value == 0 || value >= 1_000_000 else {
                    throw error(node, "--\(name) cannot be less than 1ms")
                }
                return value
            }
            var retries: Int?
            if let text = parsed.values["retries"] {
                guard let value = Int(text), value >= 0 else {
                    throw error(node, "--retries must be a non-negative integer, not '\(text)'")
                }
                retries = value
            }
            return HealthcheckCommand(
                info: info, test: test, interval: try duration("interval"), timeout: try duration("timeout"),
                startPeriod: try duration("start-period"), startInterval: try duration("start-interval"),
                retries: retries)
        default:
            throw error(node, "unknown type for HEALTHCHECK: \(type) (expected NONE or CMD)")
        }
    }

    static func heredoc(_ parsed: ParsedHeredoc) -> Heredoc {
        var content = parsed.content
        if parsed.chomp {
            // Lines as scalars: "\r\n" is one Swift Character, and a CRLF heredoc's tabs count too.
            content = content.scalarComponents(separatedBy: "\n", omittingEmpty: false)
                .map { $0.unicodeScalars.drop { $0 == "\t" } }.map { String(String.UnicodeScalarView($0)) }
                .joined(separator: "\n")
        }
        return Heredoc(
            name: parsed.name, content: content, expand: parsed.expand, fileDescriptor: parsed.fileDescriptor)
    }

    /// The known instruction closest to `word` (edit distance ≤ 2).
    static func nearest(_ word: String) -> String? {
        var best: (String, Int)?
        for candidate in instructions {
            let distance = editDistance(Array(word), Array(candidate))
            if distance <= 2, best == nil || distance < best!.1 { best = (candidate, distance) }
        }
        return best?.0
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// Go's time.ParseDuration, in nanoseconds.
enum GoDuration {
    static func parse(_ text: String) -> Int64? {
        var s = Substring(text)
        var negative = false
        if s.first == "-" || s.first == "+" {
            negative = s.first == "-"
            s = s.dropFirst()
        }
        if s == "0" { return 0 }
        guard !s.isEmpty else { return nil }
        let units: [(String, Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
        ]
        var total = 0.0
        while !s.isEmpty {
            let number = s.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            s = s.dropFirst(number.count)
            guard let unit = units.first(where: { s.hasPrefix($0.0) && !(($0.0 == "m") && s.hasPrefix("ms")) }) else {
                return nil
            }
            s = s.dropFirst(unit.0.count)
            total += value * unit.1
        }
        // Go rejects durations that overflow int64 nanoseconds; converting them would trap.
        guard total.isFinite, total < 9.2e18 else { return nil }
        return Int64(negative ? -total : total)
    }
}
