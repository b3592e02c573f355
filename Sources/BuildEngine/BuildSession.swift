import ContainerRuntime
import DockerfileSyntax
import Foundation
import ImageStore
import OCIImage
import Snapshots
import Synchronization

/// The state of one `berth build`: the parsed Dockerfile, finished stages and step numbering.
final class BuildSession: Sendable {
    let builder: Builder
    let options: BuildOptions
    let dockerfile: Dockerfile
    let progress: any ProgressSink
    let ignore: IgnoreMatcher?
    private let counter = Mutex(0)
    private let results = Mutex([Int: StageResult]())
    private let used = Mutex([UsedStep]())
    /// `--cache-from` records, when any source was given.
    let imported: ImportedCache?
    /// Every step's inputs, for the build record and `--explain`.
    let explainer = BuildExplainer()

    init(
        builder: Builder, options: BuildOptions, dockerfile: Dockerfile, progress: any ProgressSink,
        ignore: IgnoreMatcher?
    ) {
        self.builder = builder
        self.options = options
        self.dockerfile = dockerfile
        self.progress = progress
        self.ignore = ignore
        imported =
            options.cacheFrom.isEmpty ? nil : ImportedCache(store: builder.store, settings: options.registry)
    }

    /// Notes a step's cache record, for `--cache-to`.
    func recordUsed(_ key: String, _ record: StepRecord, stage: Int) {
        used.withLock { $0.append(UsedStep(key: key, record: record, stage: stage)) }
    }

    var store: ImageStore { builder.store }
    var snapshotter: Snapshotter { builder.snapshotter }

    /// The time to record for a step that runs now: SOURCE_DATE_EPOCH when set.
    func timestamp() -> String {
        options.sourceDateEpoch.map { Timestamp.rfc3339(epoch: $0) } ?? Timestamp.rfc3339(Date())
    }

    /// The next `#N` progress number.
    func nextStep() -> Int {
        counter.withLock { n in
            n += 1
            return n
        }
    }

    /// The result of an earlier stage, by index.
    func result(ofStage index: Int) -> StageResult? {
        results.withLock { $0[index] }
    }

    /// Global ARG values (before the first FROM), with build args applied, plus the predefined
    /// platform ARGs.
    func globalArgs() throws(BuildError) -> [String: String] {
        var values = PredefinedArgs.values()
        for arg in dockerfile.globalArgs {
            for declaration in arg.args {
                if let given = options.buildArgs[declaration.name] {
                    values[declaration.name] = given
                } else if let value = declaration.defaultValue {
                    do {
                        values[declaration.name] = try ShellExpander(escapeToken: dockerfile.directives.escapeToken)
                            .expand(value) { values[$0] }
                    } catch {
                        throw BuildError(error.description, fileName: dockerfile.fileName, location: arg.info.location)
                    }
                } else if values[declaration.name] == nil {
                    values[declaration.name] = nil
                }
            }
        }
        return values
    }

    func run() async throws(BuildError) -> BuildResult {
        let globals = try globalArgs()
        var baseNames: [String] = []
        for stage in dockerfile.stages {
            do {
                baseNames.append(
                    try ShellExpander(escapeToken: dockerfile.directives.escapeToken).expand(stage.baseName) {
                        globals[$0]
                    })
            } catch {
                throw BuildError(error.description, fileName: dockerfile.fileName, location: stage.location)
            }
        }
        let plan: BuildPlan
        do {
            plan = try BuildPlan(
                dockerfile: dockerfile, target: options.target, baseNames: baseNames,
                triggerSources: await onBuildCopySources(baseNames), globalArgs: globals)
        } catch {
            var located = error
            if let range = located.location {
                located.excerpt = SourceExcerpt.make(
                    options.dockerfileContents ?? (try? FileSystem.read(options.dockerfilePath)) ?? [], range: range)
            }
            throw located
        }
        warnUnusedBuildArgs()
        await startExplaining()
        if let imported {
            let progress = self.progress
            await imported.load(options.cacheFrom) { progress.report(.warning($0)) }
        }
        try await buildStages(plan, baseNames: baseNames, globals: globals)
        guard let final = result(ofStage: plan.target) else {
            throw BuildError("internal error: target stage produced no result")
        }
        let (image, existed) = try await writeImage(final)
        await saveBuildRecord()
        try await exportCache(target: plan.target)
        return try await writeOutputs(image, existedBefore: existed)
    }

    /// `--cache-to`: the records this build used (all stages with mode=max, else the target's).
    private func exportCache(target: Int) async throws(BuildError) {
        let steps = used.withLock { $0 }
        for location in options.cacheTo {
            let step = nextStep()
            let name: String
            switch location.kind {
            case .registry(let reference): name = "exporting cache to \(reference)"
            case .local(let directory): name = "exporting cache to \(directory)"
            }
            progress.report(.started(step: step, name: name))
            let started = Date()
            do {
                try await CacheExporter(store: store, settings: options.registry).export(
                    steps.filter { location.exportsAllStages || $0.stage == target }, to: location)
            } catch {
                progress.report(.failed(step: step, message: "\(error)", seconds: Date().timeIntervalSince(started)))
                throw BuildError("cannot export the build cache: \(error)")
            }
            progress.report(.done(step: step, seconds: Date().timeIntervalSince(started)))
        }
    }

    /// Builds the planned stages, each as soon as the stages it needs are done, independent
    /// ones in parallel (at most one per core). A failing stage cancels the others, which tear
    /// down their containers and snapshots.
    private func buildStages(_ plan: BuildPlan, baseNames: [String], globals: [String: String]) async throws(BuildError)
    {
        let limit = max(1, ProcessInfo.processInfo.activeProcessorCount)
        var waiting = plan.order
        var finished = Set<Int>()
        do {
            try await withThrowingTaskGroup(of: Int.self) { group in
                var running = 0
                func startReady() {
                    while running < limit,
                        let next = waiting.firstIndex(where: { Set(plan.dependencies[$0] ?? []).isSubset(of: finished) }
                        )
                    {
                        let index = waiting.remove(at: next)
                        running += 1
                        let builder = StageBuilder(
                            session: self, index: index, stage: dockerfile.stages[index], baseName: baseNames[index],
                            globalArgs: globals)
                        group.addTask {
                            let result = try await builder.build()
                            self.results.withLock { $0[index] = result }
                            return index
                        }
                    }
                }
                startReady()
                while let index = try await group.next() {
                    finished.insert(index)
                    running -= 1
                    startReady()
                }
            }
        } catch let error as BuildError {
            throw error
        } catch {
            throw BuildError("\(error)")
        }
    }

    /// BuildKit's warning for `--build-arg`s no ARG declares.
    private func warnUnusedBuildArgs() {
        var declared = Set(PredefinedArgs.values().keys).union(PredefinedArgs.proxyNames).union(["SOURCE_DATE_EPOCH"])
        for arg in dockerfile.globalArgs { declared.formUnion(arg.args.map(\.name)) }
        for stage in dockerfile.stages {
            for case .arg(let arg) in stage.commands { declared.formUnion(arg.args.map(\.name)) }
        }
        let unused = options.buildArgs.keys.filter { !declared.contains($0) }.sorted()
        if !unused.isEmpty {
            progress.report(.warning("one or more build-args [\(unused.joined(separator: " "))] were not consumed"))
        }
    }

    /// Stores (and tags) the image; also says whether the store already had it.
    private func writeImage(_ result: StageResult) async throws(BuildError) -> (StoredImage, Bool) {
        var config = result.config
        if !options.labels.isEmpty {
            var labels = config.config?.labels ?? [:]
            for (key, value) in options.labels { labels[key] = value }
            config.config?.labels = labels
        }
        config.rootfs = RootFS(diffIDs: result.layers.compactMap(\.diffID))
        config.history = result.history
        config.created = options.sourceDateEpoch.map { Timestamp.rfc3339(epoch: $0) } ?? result.created
        var layers: [Descriptor] = []
        for record in result.layers {
            guard let digest = record.layerDigest else {
                throw BuildError("internal error: snapshot \(record.id) has no layer")
            }
            layers.append(Descriptor(mediaType: MediaType.ociLayer, digest: digest, size: record.size ?? 0))
        }
        do {
            let existed = try? await store.image(named: Digest.sha256(of: CanonicalJSON.encode(config)).description)
            let image = try await store.putImage(config: config, layers: layers)
            for tag in options.tags {
                try await store.tag(image.id, as: tag)
            }
            return (try await store.image(named: image.id.description), existed != nil)
        } catch {
            throw BuildError("cannot store the image: \(error)")
        }
    }
}

/// ARGs BuildKit defines for every build.
enum PredefinedArgs {
    static func values() -> [String: String] {
        let platform = Platform.host
        var values: [String: String] = [
            "TARGETPLATFORM": platform.description, "TARGETOS": platform.os,
            "TARGETARCH": platform.architecture, "TARGETVARIANT": platform.variant ?? "",
            "BUILDPLATFORM": platform.description, "BUILDOS": platform.os,
            "BUILDARCH": platform.architecture, "BUILDVARIANT": platform.variant ?? "",
        ]
        for name in ["HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY"] {
            if let value = ProcessInfo.processInfo.environment[name] { values[name] = value }
            if let value = ProcessInfo.processInfo.environment[name.lowercased()] { values[name.lowercased()] = value }
        }
        return values
    }

    /// Names a stage may use without declaring them (proxy variables are passed to RUN).
    static let proxyNames: Set<String> = [
        "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY",
        "http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy",
    ]
}

/// What a finished stage hands on: its config, its layers (bottom first), the cache key of its
/// last step and its history.
struct StageResult: Sendable {
    var config: ImageConfig
    var layers: [SnapshotRecord]
    var key: CacheKey
    var history: [History]
    var created: String
    /// Topmost first, for overlay mounts.
    var lowerChain: [SnapshotRecord] { layers.reversed() }
}
