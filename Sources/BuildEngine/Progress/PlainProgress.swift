import Foundation
import Synchronization

/// BuildKit-style plain progress on stderr:
/// `#3 [2/4] RUN echo hi`, `#3 0.123 hi`, `#3 DONE 0.2s`, `#4 CACHED`.
public final class PlainProgress: ProgressSink {
    private struct State {
        var started: [Int: Date] = [:]
        var lines = StepLines()
    }
    private let state = Mutex(State())
    private let write: @Sendable (String) -> Void

    /// `write` receives whole lines (defaults to stderr).
    public init(write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.write = write
    }

    public func report(_ event: ProgressEvent) {
        switch event {
        case .started(let step, let name):
            state.withLock { $0.started[step] = Date() }
            write("#\(step) \(name)\n")
        case .cached(let step):
            write("#\(step) CACHED\n")
        case .output(let step, let bytes):
            let lines = state.withLock { $0.lines.append(bytes, step: step) }
            let elapsed = state.withLock { s in s.started[step].map { Date().timeIntervalSince($0) } ?? 0 }
            for line in lines {
                write("#\(step) \(String(format: "%.3f", elapsed)) \(line)\n")
            }
        case .done(let step, let seconds):
            flush(step)
            write("#\(step) DONE \(String(format: "%.1f", seconds))s\n")
        case .failed(let step, let message, let seconds):
            flush(step)
            write("#\(step) ERROR \(String(format: "%.1f", seconds))s: \(message)\n")
        case .explain(let step, let reasons):
            for reason in reasons { write("#\(step) EXPLAIN \(reason)\n") }
        case .warning(let message):
            write("WARNING: \(message)\n")
        }
    }

    public func finish() {}

    private func flush(_ step: Int) {
        if let rest = state.withLock({ $0.lines.finish(step: step) }) { write("#\(step) \(rest)\n") }
    }
}

/// Discards everything (`-q`, `--progress quiet`).
public struct QuietProgress: ProgressSink {
    public init() {}
    public func report(_ event: ProgressEvent) {}
    public func finish() {}
}
