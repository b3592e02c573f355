import Foundation
import Synchronization

/// `--progress json`: one JSON object per line on stderr for every progress event, e.g.
/// `{"time":"2026-01-02T03:04:05.678Z","event":"started","step":3,"name":"[2/4] RUN make"}`.
///
/// Events: `started`, `cached`, `output` (one per line of output, in `line`), `done` and
/// `error` (with `seconds`; `error` with `message`), `explain` (with `reasons`), `warning`
/// (with `message`) and, at the end, `image` (with `id` and `names`). Every step event carries
/// the step number and its name.
public final class JSONProgress: ProgressSink {
    private struct State {
        var names: [Int: String] = [:]
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
            state.withLock { $0.names[step] = name }
            emit("started", step: step)
        case .cached(let step):
            emit("cached", step: step)
        case .output(let step, let bytes):
            let lines = state.withLock { $0.lines.append(bytes, step: step) }
            for line in lines { emit("output", step: step, ["line": line]) }
        case .done(let step, let seconds):
            flush(step)
            emit("done", step: step, ["seconds": Self.rounded(seconds)])
        case .failed(let step, let message, let seconds):
            flush(step)
            emit("error", step: step, ["message": message, "seconds": Self.rounded(seconds)])
        case .explain(let step, let reasons):
            emit("explain", step: step, ["reasons": reasons])
        case .warning(let message):
            emit("warning", step: nil, ["message": message])
        }
    }

    /// The final event: the image id and the names it was given.
    public func image(id: String, names: [String]) {
        emit("image", step: nil, ["id": id, "names": names])
    }

    public func finish() {}

    private func flush(_ step: Int) {
        if let rest = state.withLock({ $0.lines.finish(step: step) }) { emit("output", step: step, ["line": rest]) }
    }

    private func emit(_ event: String, step: Int?, _ fields: [String: Any] = [:]) {
        var object = fields
        object["time"] = Self.now()
        object["event"] = event
        if let step {
            object["step"] = step
            if let name = state.withLock({ $0.names[step] }) { object["name"] = name }
        }
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        write(String(decoding: data, as: UTF8.self) + "\n")
    }

    private static func rounded(_ seconds: Double) -> Double {
        (seconds * 1000).rounded() / 1000
    }

    /// RFC 3339 UTC with milliseconds.
    private static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date())
    }
}
