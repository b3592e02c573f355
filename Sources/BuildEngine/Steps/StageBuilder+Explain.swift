import Foundation
import Synchronization

extension StageBuilder {
    /// The inputs record of the step about to run in `state`'s slot (key and parent filled later).
    func stepInputs(_ state: State, kind: String, instruction: String) -> StepInputs {
        StepInputs(stage: index, slot: state.slot, kind: kind, instruction: Self.oneLine(instruction), parent: nil)
    }

    /// Records a file-system step's inputs and, when it missed the cache with `--explain`,
    /// reports why.
    func explain(_ inputs: StepInputs?, state: State, key: CacheKey, step: Int, missed: Bool) {
        guard var inputs else { return }
        inputs.parent = state.key.value
        inputs.key = key.value
        let reasons = session.explainer.step(
            inputs, progressStep: step, missed: missed, noCache: session.options.noCache)
        if !reasons.isEmpty { session.progress.report(.explain(step: step, reasons: reasons)) }
    }

    /// RUN's environment split as the explanation names it: build args (ARG values the command
    /// sees) and ENV variables.
    func splitEnvironment(_ env: [String], state: State) -> (args: [String: String], env: [String: String]) {
        let argNames = Set(state.args.map(\.name)).union(PredefinedArgs.proxyNames)
        let imageNames = Set(
            (state.containerConfig.env ?? []).compactMap {
                $0.split(separator: "=", maxSplits: 1).first.map(String.init)
            })
        var args: [String: String] = [:]
        var variables: [String: String] = [:]
        for entry in env {
            let pair = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let name = pair[0]
            let value = pair.count > 1 ? pair[1] : ""
            if argNames.contains(name) && !imageNames.contains(name) {
                args[name] = value
            } else {
                variables[name] = value
            }
        }
        return (args, variables)
    }
}

/// The last output of a running step, kept for the error message when it fails.
final class OutputTail: Sendable {
    private let bytes = Mutex([UInt8]())
    private let limit = 8192

    func append(_ chunk: [UInt8]) {
        bytes.withLock { buffer in
            buffer.append(contentsOf: chunk)
            if buffer.count > limit { buffer.removeFirst(buffer.count - limit) }
        }
    }

    /// The last `count` lines (an unfinished last line included).
    func lastLines(_ count: Int) -> [String] {
        let text = String(decoding: bytes.withLock { $0 }, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return Array(lines.suffix(count))
    }
}
