import Foundation
import ImageStore
import Synchronization

/// Collects every step's inputs during a build and, with `--explain`, compares each missed step
/// with the same step (same stage, same instruction slot) of the last build of the Dockerfile
/// and target. The record of this build replaces that one when the build succeeds.
final class BuildExplainer: Sendable {
    private struct State {
        var previous: BuildRecord?
        var enabled = false
        var steps: [StepInputs] = []
        /// Per stage: changes of metadata instructions not yet shown with a missed step.
        var pending: [Int: [String]] = [:]
        /// Per stage: the progress number of the last step that changed itself.
        var lastChanged: [Int: Int] = [:]
    }
    private let state = Mutex(State())

    /// Loads the previous record (with `--explain`); returns false when there is none.
    func start(previous: BuildRecord?, enabled: Bool) {
        state.withLock {
            $0.previous = previous
            $0.enabled = enabled
        }
    }

    /// Records a metadata step (ENV, ARG, LABEL, …): its changes are shown with the next missed
    /// file-system step of the stage, whose key they feed.
    func metadata(_ inputs: StepInputs) {
        state.withLock { s in
            s.steps.append(inputs)
            guard s.enabled, let previous = s.previous else { return }
            guard let before = previous.step(stage: inputs.stage, slot: inputs.slot), before.kind == inputs.kind
            else {
                s.pending[inputs.stage, default: []].append("new instruction: \(inputs.instruction)")
                return
            }
            var changes = inputs.changes(since: before)
            // A rewritten instruction says it all; its changed values follow from the text.
            if inputs.instruction != before.instruction { changes = [changes[0]] }
            s.pending[inputs.stage, default: []] += changes.filter {
                !s.pending[inputs.stage, default: []].contains($0)
            }
        }
    }

    /// Records a stage root or file-system step; when it `missed` the cache (or for a stage
    /// root, always), returns why, in words: its own changed inputs, or the earlier change that
    /// gave it a new parent key.
    func step(_ inputs: StepInputs, progressStep: Int, missed: Bool, noCache: Bool) -> [String] {
        state.withLock { s in
            s.steps.append(inputs)
            let pending = s.pending.removeValue(forKey: inputs.stage) ?? []
            guard s.enabled, missed, let previous = s.previous else { return [] }
            guard let before = previous.step(stage: inputs.stage, slot: inputs.slot), before.kind == inputs.kind else {
                s.lastChanged[inputs.stage] = progressStep
                return inputs.kind == "base"
                    ? ["new stage: \(inputs.instruction)"] : ["new step: not in the last build"]
            }
            var own = inputs.changes(since: before)
            if inputs.kind == "base" {
                if own.isEmpty, inputs.key != before.key, let stage = inputs.fields["base stage"] {
                    own.append("stage \(stage) changed")
                }
                if !own.isEmpty { s.lastChanged[inputs.stage] = progressStep }
                return own
            }
            if !own.isEmpty {
                s.lastChanged[inputs.stage] = progressStep
                if inputs.parent != before.parent { own += pending.filter { !own.contains($0) } }
                return own
            }
            if inputs.parent != before.parent {
                if !pending.isEmpty { return pending }
                if let earlier = s.lastChanged[inputs.stage] { return ["an earlier step changed (#\(earlier))"] }
                return ["an earlier step changed"]
            }
            if noCache { return ["inputs unchanged (--no-cache)"] }
            return ["inputs unchanged: the cache holds no result for this step (pruned, or never stored)"]
        }
    }

    /// This build's record, stages and instructions in order.
    func record() -> BuildRecord {
        BuildRecord(steps: state.withLock { $0.steps }.sorted { ($0.stage, $0.slot) < ($1.stage, $1.slot) })
    }
}

extension BuildSession {
    /// The record's identity: the Dockerfile's absolute path (or the context, for stdin).
    var recordDockerfile: String {
        if options.dockerfileContents != nil { return "stdin:" + RootedPath.clean(options.contextPath) }
        return RootedPath.clean(options.dockerfilePath)
    }

    /// The target stage for the record (empty: the last stage).
    var recordTarget: String { options.target ?? "" }

    /// Loads the previous build's record for `--explain`, warning when there is none.
    func startExplaining() async {
        guard options.explain else { return }
        var previous: BuildRecord?
        if let text = try? await store.buildRecord(dockerfile: recordDockerfile, target: recordTarget),
            let record = try? JSONDecoder().decode(BuildRecord.self, from: Data(text.utf8)),
            record.version == BuildRecord.version
        {
            previous = record
        }
        if previous == nil {
            let target = options.target.map { " (target \($0))" } ?? ""
            progress.report(
                .warning("--explain: no earlier build of \(recordDockerfile)\(target) is recorded; nothing to compare"))
        }
        explainer.start(previous: previous, enabled: true)
    }

    /// Keeps this build's step inputs for the next `--explain` (the last build only).
    func saveBuildRecord() async {
        guard let json = try? JSONEncoder().encode(explainer.record()) else { return }
        do {
            try await store.putBuildRecord(
                dockerfile: recordDockerfile, target: recordTarget, record: String(decoding: json, as: UTF8.self))
        } catch {
            progress.report(.warning("cannot record the build's step inputs for --explain: \(error)"))
        }
    }
}
