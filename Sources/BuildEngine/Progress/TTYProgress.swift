import Foundation
import Synchronization

/// Compact terminal progress: a line per step, redrawn in place while it runs (with the tail of
/// its output and a live timer), collapsed to `=> [2/4] RUN … 0.3s` when done.
public final class TTYProgress: ProgressSink {
    private struct Step {
        var name: String
        var start = Date()
        var tail: [String] = []
        var partial: [UInt8] = []
        var finished: String?
        /// `--explain` reasons, shown under the step even once it is done.
        var notes: [String] = []
    }
    private struct State {
        var steps: [Int: Step] = [:]
        var order: [Int] = []
        var drawnLines = 0
        var lastDraw = Date.distantPast
        /// Another user of the terminal (a debug shell) has it: draw nothing until resumed.
        var paused = false
    }
    private let state = Mutex(State())
    private let tailLines = 6

    public init() {}

    public func report(_ event: ProgressEvent) {
        state.withLock { s in
            switch event {
            case .started(let step, let name):
                s.steps[step] = Step(name: name)
                s.order.append(step)
            case .cached(let step):
                s.steps[step]?.finished = "CACHED"
            case .output(let step, let bytes):
                guard var st = s.steps[step] else { return }
                st.partial.append(contentsOf: bytes)
                while let newline = st.partial.firstIndex(of: 0x0a) {
                    st.tail.append(String(decoding: st.partial[..<newline], as: UTF8.self))
                    st.partial.removeSubrange(...newline)
                }
                if st.tail.count > tailLines { st.tail.removeFirst(st.tail.count - tailLines) }
                s.steps[step] = st
                if Date().timeIntervalSince(s.lastDraw) < 0.1 { return }
            case .done(let step, let seconds):
                s.steps[step]?.finished = String(format: "%.1fs", seconds)
            case .failed(let step, let message, let seconds):
                s.steps[step]?.finished = String(format: "ERROR %.1fs", seconds)
                s.steps[step]?.tail.append(message)
            case .explain(let step, let reasons):
                s.steps[step]?.notes += reasons
            case .warning(let message):
                Self.emit(&s, "WARNING: \(message)\n")
                return
            }
            redraw(&s)
        }
    }

    public func finish() {
        state.withLock { redraw(&$0) }
    }

    /// Hands the terminal to someone else (`--debug-on-failure`'s shell): what is drawn stays
    /// as it is and nothing is redrawn until ``resume()``.
    public func pause() {
        state.withLock { s in
            s.paused = true
            s.drawnLines = 0
        }
    }

    /// Takes the terminal back; the next redraw starts below what others wrote.
    public func resume() {
        state.withLock { $0.paused = false }
    }

    private func redraw(_ s: inout State) {
        if s.paused { return }
        var out = ""
        if s.drawnLines > 0 { out += "\u{1b}[\(s.drawnLines)A\u{1b}[J" }
        var lines = 0
        for id in s.order {
            guard let st = s.steps[id] else { continue }
            if let finished = st.finished {
                out += "\u{1b}[34m => \(Self.clip(st.name)) \(finished)\u{1b}[0m\n"
                lines += 1
                for note in st.notes {
                    out += "    explain: \(Self.clip(note))\n"
                    lines += 1
                }
                if finished.hasPrefix("ERROR") {
                    for line in st.tail {
                        out += "    \(Self.clip(line))\n"
                        lines += 1
                    }
                }
            } else {
                out += " => \(Self.clip(st.name)) \(String(format: "%.1fs", Date().timeIntervalSince(st.start)))\n"
                lines += 1
                for note in st.notes {
                    out += "    explain: \(Self.clip(note))\n"
                    lines += 1
                }
                for line in st.tail {
                    out += "\u{1b}[2m    \(Self.clip(line))\u{1b}[0m\n"
                    lines += 1
                }
            }
        }
        s.drawnLines = lines
        s.lastDraw = Date()
        FileHandle.standardError.write(Data(out.utf8))
    }

    private static func emit(_ s: inout State, _ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
        s.drawnLines = 0
    }

    private static func clip(_ text: String) -> String {
        text.count > 110 ? String(text.prefix(107)) + "..." : text
    }
}
