import Foundation
import ImageStore
import Synchronization

/// Collects every step's inputs during a build and, with `--explain`, compares each missed step
/// with its counterpart in the last build of the Dockerfile and target: within each stage, the
/// instructions of both builds are aligned on their text (a longest common subsequence), so an
/// inserted or deleted instruction is named as such and the others still find theirs; between
/// two aligned instructions, the ones left over pair up in order (an edited instruction). The
/// record of this build replaces that one when the build succeeds.
final class BuildExplainer: Sendable {
    private struct State {
        var previous: BuildRecord?
        var enabled = false
        /// Per stage: this build's instruction slot → the previous build's.
        var counterparts: [Int: [Int: Int]] = [:]
        var steps: [StepInputs] = []
        /// Per stage: changes of metadata instructions not yet shown with a missed step.
        var pending: [Int: [String]] = [:]
        /// Per stage: the progress number of the last step that changed itself.
        var lastChanged: [Int: Int] = [:]
    }
    private let state = Mutex(State())

    /// Loads the previous record (with `--explain`) and aligns it with `instructions`, this
    /// build's instruction texts per stage (slot 1 first).
    func start(previous: BuildRecord?, enabled: Bool, instructions: [[String]] = []) {
        var counterparts: [Int: [Int: Int]] = [:]
        if let previous {
            for (stage, texts) in instructions.enumerated() {
                let before = previous.steps.filter { $0.stage == stage && $0.slot > 0 }.sorted { $0.slot < $1.slot }
                var slots: [Int: Int] = [0: 0]  // the stage root (FROM)
                for (index, match) in Self.align(texts, before.map(\.instruction)) {
                    slots[index + 1] = before[match].slot
                }
                counterparts[stage] = slots
            }
        }
        state.withLock {
            $0.previous = previous
            $0.enabled = enabled
            $0.counterparts = counterparts
        }
    }

    /// Pairs indices of `current` with indices of `previous`: equal texts along a longest common
    /// subsequence, then, between two such pairs, the remaining ones in order.
    static func align(_ current: [String], _ previous: [String]) -> [Int: Int] {
        let n = current.count
        let m = previous.count
        // lengths[i][j]: the LCS length of current[i...] and previous[j...].
        var lengths = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lengths[i][j] =
                    current[i] == previous[j] ? lengths[i + 1][j + 1] + 1 : max(lengths[i + 1][j], lengths[i][j + 1])
            }
        }
        var pairs: [Int: Int] = [:]
        var gapCurrent: [Int] = []
        var gapPrevious: [Int] = []
        func closeGap() {
            for (c, p) in zip(gapCurrent, gapPrevious) { pairs[c] = p }
            gapCurrent = []
            gapPrevious = []
        }
        var i = 0
        var j = 0
        while i < n || j < m {
            if i < n, j < m, current[i] == previous[j] {
                closeGap()
                pairs[i] = j
                i += 1
                j += 1
            } else if j < m, i == n || lengths[i][j + 1] >= lengths[i + 1][j] {
                gapPrevious.append(j)
                j += 1
            } else {
                gapCurrent.append(i)
                i += 1
            }
        }
        closeGap()
        return pairs
    }

    /// The previous build's counterpart of a step: by alignment when there is one, else none;
    /// steps outside the Dockerfile's instructions (ONBUILD triggers) by their slot.
    private static func counterpart(of inputs: StepInputs, in s: State) -> StepInputs? {
        guard let previous = s.previous else { return nil }
        guard let slots = s.counterparts[inputs.stage] else {
            return previous.step(stage: inputs.stage, slot: inputs.slot)
        }
        guard let slot = slots[inputs.slot] else { return nil }
        return previous.step(stage: inputs.stage, slot: slot)
    }

    /// Records a metadata step (ENV, ARG, LABEL, …): its changes are shown with the next missed
    /// file-system step of the stage, whose key they feed.
    func metadata(_ inputs: StepInputs) {
        state.withLock { s in
            s.steps.append(inputs)
            guard s.enabled, s.previous != nil else { return }
            guard let before = Self.counterpart(of: inputs, in: s), before.kind == inputs.kind else {
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
            guard s.enabled, missed, s.previous != nil else { return [] }
            guard let before = Self.counterpart(of: inputs, in: s), before.kind == inputs.kind else {
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
        let instructions = dockerfile.stages.map { stage in
            stage.commands.map { StageBuilder.oneLine($0.info.original) }
        }
        explainer.start(previous: previous, enabled: true, instructions: instructions)
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
