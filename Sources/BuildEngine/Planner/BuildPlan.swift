import DockerfileSyntax

/// Which stages a build needs, in dependency order.
///
/// A stage depends on the stage named in its FROM and on every stage a `COPY --from` or
/// `RUN --mount from=` names, including a `COPY --from` among the ONBUILD triggers of its base.
/// Stages the target does not need are never built.
struct BuildPlan {
    /// Indexes into `Dockerfile.stages`, dependencies before dependents.
    var order: [Int]
    var target: Int
    /// For each needed stage, the stages it needs first.
    var dependencies: [Int: [Int]]

    /// `triggerSources`: for a stage, the `--from` names of its base's ONBUILD COPY triggers.
    init(
        dockerfile: Dockerfile, target: String?, baseNames: [String], triggerSources: [Int: [String]] = [:],
        globalArgs: [String: String] = [:]
    ) throws(BuildError) {
        let stages = dockerfile.stages
        guard !stages.isEmpty else {
            throw BuildError("\(dockerfile.fileName): the Dockerfile has no FROM instruction")
        }
        let targetIndex: Int
        if let target {
            guard let index = stages.firstIndex(where: { $0.name == target.lowercased() }) else {
                let names = stages.compactMap(\.name)
                throw BuildError(
                    "target stage '\(target)' not found in \(dockerfile.fileName)"
                        + (names.isEmpty ? "" : " (stages: \(names.joined(separator: ", ")))"))
            }
            targetIndex = index
        } else {
            targetIndex = stages.count - 1
        }
        func stageIndex(_ reference: String, before limit: Int) -> Int? {
            if let n = Int(reference), n >= 0, n < limit { return n }
            return stages[..<limit].lastIndex { $0.name == reference.lowercased() }
        }
        var dependencies: [Int: [Int]] = [:]
        for (index, stage) in stages.enumerated() {
            var deps: [Int] = []
            if let base = stageIndex(baseNames[index], before: index), Int(baseNames[index]) == nil {
                deps.append(base)
            }
            for from in triggerSources[index] ?? [] {
                if let dep = stageIndex(from, before: index) { deps.append(dep) }
            }
            for command in stage.commands {
                if case .copy(let copy) = command, let from = copy.from,
                    let dep = stageIndex(from, before: index)
                {
                    deps.append(dep)
                }
                if case .run(let run) = command {
                    for from in try Self.mountSources(
                        run, fileName: dockerfile.fileName, escapeToken: dockerfile.directives.escapeToken,
                        globalArgs: globalArgs)
                    {
                        if let dep = stageIndex(from, before: index) { deps.append(dep) }
                    }
                }
            }
            dependencies[index] = deps
        }
        var order: [Int] = []
        var seen = Set<Int>()
        func visit(_ index: Int) {
            guard seen.insert(index).inserted else { return }
            for dep in dependencies[index] ?? [] { visit(dep) }
            order.append(index)
        }
        visit(targetIndex)
        self.order = order
        self.target = targetIndex
        self.dependencies = dependencies
    }

    /// Checks every `--mount` of `run` (so a bad one fails the build before anything runs) and
    /// returns the `from=` values, expanded with the global ARGs.
    static func mountSources(
        _ run: RunCommand, fileName: String, escapeToken: Character, globalArgs: [String: String]
    ) throws(BuildError) -> [String] {
        var sources: [String] = []
        for text in run.mounts {
            let spec: RunMountSpec
            do {
                spec = try RunMountSpec.parse(text)
            } catch {
                throw BuildError(
                    "invalid --mount '\(text)': \(error.message)", fileName: fileName, location: run.info.location)
            }
            guard let from = spec.from else { continue }
            let expanded = try? ShellExpander(escapeToken: escapeToken).expand(from) { globalArgs[$0] }
            sources.append(expanded ?? from)
        }
        return sources
    }
}
