import ArgumentParser
import BuildEngine
import ContainerRuntime
import Foundation
import ImageStore
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// `berth build`: a Dockerfile and its context → an image in the store.
struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Build an image from a Dockerfile.")

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .customLong("tag")], help: "Name (and optionally tag) the image; repeatable.")
    var tags: [String] = []

    @Option(name: [.short, .customLong("file")], help: "The Dockerfile (default CONTEXT/Dockerfile; - for stdin).")
    var file: String?

    @Flag(name: .shortAndLong, help: "Print only the image id (on standard output).")
    var quiet = false

    @Option(name: .long, help: "Progress output: auto, tty, plain, json (one object per line) or quiet.")
    var progress: String = "auto"

    @Option(
        name: [.short, .customLong("output")],
        help: ArgumentHelp(
            "Write the result: type=oci|docker|tar|local,dest=PATH (DIR alone = local, - = tar on stdout).",
            discussion: """
                oci: an OCI image layout tar; docker: a docker-archive for `docker load`, with the -t names; \
                tar: the final stage's flattened file system; local: that file system written into a directory. \
                As with docker buildx, an image built with --output and no -t is not kept in the store \
                (its layers stay as build cache); with -t it is stored and tagged as usual.
                """))
    var outputs: [String] = []

    @Option(name: .customLong("iidfile"), help: "Write the image id (sha256:…) to this file.")
    var iidFile: String?

    @Option(
        name: .customLong("metadata-file"),
        help: "Write build metadata (image digest, config digest, descriptor, names) as JSON to this file.")
    var metadataFile: String?

    @Flag(
        name: .long,
        help:
            "For every step that misses the cache, say what changed since the last build of this Dockerfile and target."
    )
    var explain = false

    @Flag(
        name: .customLong("debug-on-failure"),
        help: "When a RUN step fails on a terminal, open /bin/sh on the failed step's file system.")
    var debugOnFailure = false

    @Option(name: .long, help: "Build up to this stage.")
    var target: String?

    @Option(
        name: .customLong("build-arg"),
        help: "Set a build argument (KEY=VALUE, or KEY to take it from the environment).")
    var buildArgs: [String] = []

    @Option(name: .customLong("label"), help: "Set an image label (KEY=VALUE).")
    var labels: [String] = []

    @OptionGroup var registry: RegistryOptions

    @Flag(name: .long, help: "Always fetch base images from their registry.")
    var pull = false

    @Option(
        name: .customLong("cache-to"),
        help: "Export the build cache: type=registry,ref=REF[,mode=min|max] or type=local,dest=DIR.")
    var cacheTo: [String] = []

    @Option(
        name: .customLong("cache-from"),
        help: "Reuse exported cache: type=registry,ref=REF or type=local,src=DIR.")
    var cacheFrom: [String] = []

    @Flag(name: .customLong("no-cache"), help: "Do not use the build cache.")
    var noCache = false

    @Option(
        name: .customLong("no-cache-filter"),
        help: ArgumentHelp(
            "Do not use the build cache for these stages (repeatable, comma-separated).", valueName: "stage"))
    var noCacheFilter: [String] = []

    @Option(name: .long, help: "Network for RUN steps: host or none.")
    var network: String = "host"

    @Option(
        name: .long,
        help: "Secret for RUN --mount=type=secret: id=ID[,src=FILE|,env=VAR] (id=ID alone: $ID or the file ID).")
    var secret: [String] = []

    @Option(
        name: .long,
        help: "SSH for RUN --mount=type=ssh: default (= $SSH_AUTH_SOCK), ID=SOCKET or ID=KEYFILE[,KEYFILE].")
    var ssh: [String] = []

    @Argument(help: "The build context directory.")
    var context: String

    func validate() throws {
        guard Self.progressModes.contains(progress) else {
            throw ValidationError(
                "--progress must be \(Self.progressModes.joined(separator: ", ")), not '\(progress)'")
        }
        try validateOutputs()
        guard ["host", "none", "default"].contains(network) else {
            throw ValidationError("--network must be host or none, not '\(network)'")
        }
        for tag in tags {
            do { _ = try ImageReference(parsing: tag) } catch { throw ValidationError("-t \(tag): \(error)") }
        }
    }

    func run() async throws {
        let contextPath = Self.absolute(context)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: contextPath, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw BerthError("build context '\(context)' is not a directory")
        }
        var options = BuildOptions(
            contextPath: contextPath, dockerfilePath: file.flatMap { $0 == "-" ? nil : Self.absolute($0) },
            tags: try tags.map { try ImageReference(parsing: $0) }, target: target,
            buildArgs: try Self.keyValues(buildArgs, flag: "--build-arg", fromEnvironment: true),
            labels: try Self.keyValues(labels, flag: "--label", fromEnvironment: false), noCache: noCache,
            network: network)
        options.pull = pull
        for value in noCacheFilter {
            let names = value.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard !names.isEmpty, !names.contains(where: \.isEmpty) else {
                throw BerthError("--no-cache-filter '\(value)': expected stage names separated by commas")
            }
            options.noCacheFilter += names
        }
        options.cacheTo = try cacheTo.map { try CacheLocation.parse($0, flag: "--cache-to") }
        options.cacheFrom = try cacheFrom.map { try CacheLocation.parse($0, flag: "--cache-from") }
        options.registry = registry.settings
        options.outputs = try parsedOutputs()
        options.explain = explain
        for text in secret {
            let (id, source) = try SecretSource.parse(text)
            options.secrets[id] = source
        }
        var keyAgents: [SSHKeyAgent] = []
        defer { for agent in keyAgents { agent.stop() } }
        for text in ssh {
            switch try SSHForward.parse(text) {
            case (let id, .socket(let socket)):
                options.sshAgents[id] = socket
            case (let id, .keys(let keys)):
                let agent = try SSHKeyAgent(keys: keys, id: id)
                keyAgents.append(agent)
                options.sshAgents[id] = agent.socket
            }
        }
        if let text = options.buildArgs["SOURCE_DATE_EPOCH"] {
            options.sourceDateEpoch = try SourceDateEpoch.parse(text, origin: "--build-arg SOURCE_DATE_EPOCH")
        } else if let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !text.isEmpty {
            options.sourceDateEpoch = try SourceDateEpoch.parse(text, origin: "SOURCE_DATE_EPOCH")
        }
        if file == "-" {
            options.dockerfilePath = "Dockerfile"
            options.dockerfileContents = Array(FileHandle.standardInput.readDataToEndOfFile())
        }
        let sink: any ProgressSink
        switch quiet ? "quiet" : progress {
        case "quiet": sink = QuietProgress()
        case "plain": sink = PlainProgress()
        case "tty": sink = TTYProgress()
        case "json": sink = JSONProgress()
        default: sink = isatty(2) != 0 ? TTYProgress() : PlainProgress()
        }
        if debugOnFailure { options.failureDebugger = DebugShell(progress: sink) }
        let stores = try Stores(global)
        let builder = Builder(store: stores.store, runtime: stores.runtime)
        let request = options
        let task = Task { try await builder.buildResult(request, progress: sink) }
        let interrupt = SignalCancellation { task.cancel() }
        defer { interrupt.stop() }
        let result: BuildResult
        do {
            result = try await task.value
        } catch {
            if let signal = interrupt.received { throw ExitCode(128 + signal) }
            throw error
        }
        try writeResultFiles(result, tags: options.tags)
        if quiet || progress == "quiet" {
            print(result.image.id)
        } else if let json = sink as? JSONProgress {
            json.image(id: result.image.id.description, names: options.tags.map(\.description))
        } else if result.keptInStore {
            var lines = "writing image \(result.image.id) done\n"
            for tag in options.tags { lines += "naming to \(tag) done\n" }
            FileHandle.standardError.write(Data(lines.utf8))
        }
    }

    static func absolute(_ path: String) -> String {
        path.startsWithSlash ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    static func keyValues(_ list: [String], flag: String, fromEnvironment: Bool) throws -> [String: String] {
        var result: [String: String] = [:]
        for item in list {
            if let eq = item.firstIndex(of: "=") {
                let key = String(item[..<eq])
                guard !key.isEmpty else { throw ValidationError("\(flag) \(item): empty name") }
                result[key] = String(item[item.index(after: eq)...])
            } else if fromEnvironment, let value = ProcessInfo.processInfo.environment[item] {
                result[item] = value
            } else if !fromEnvironment {
                result[item] = ""
            }
        }
        return result
    }
}
