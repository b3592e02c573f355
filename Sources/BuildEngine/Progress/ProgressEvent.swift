import Foundation

/// What the builder reports while it works; renderers turn these into plain or tty output.
public enum ProgressEvent: Sendable {
    /// A vertex (step) started: `[stage i/n] INSTRUCTION`.
    case started(step: Int, name: String)
    /// The step was answered from the cache.
    case cached(step: Int)
    /// Output of a running step.
    case output(step: Int, bytes: [UInt8])
    /// The step finished after `seconds`.
    case done(step: Int, seconds: Double)
    /// The step failed.
    case failed(step: Int, message: String, seconds: Double)
    /// Why the step missed the cache (`--explain`), one reason per entry.
    case explain(step: Int, reasons: [String])
    /// A warning not tied to one step.
    case warning(String)
}

/// Receives progress events; implementations must be safe to call from any task.
public protocol ProgressSink: Sendable {
    func report(_ event: ProgressEvent)
    /// Called once at the end so renderers can flush.
    func finish()
}
