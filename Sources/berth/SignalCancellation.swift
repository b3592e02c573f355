import Dispatch
import Foundation
import Synchronization

/// Turns SIGINT and SIGTERM into a cancellation callback (so a build or run tears down its
/// container, mounts and temporary files) and remembers which signal came.
final class SignalCancellation {
    private let sources: [any DispatchSourceSignal]
    private let first: FirstSignal

    init(_ cancel: @escaping @Sendable () -> Void) {
        var sources: [any DispatchSourceSignal] = []
        let first = FirstSignal()
        for number in [SIGINT, SIGTERM] {
            Foundation.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                first.record(number)
                cancel()
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
        self.first = first
    }

    /// The first signal received, if any.
    var received: Int32? { first.value }

    func stop() {
        for source in sources { source.cancel() }
    }

    private final class FirstSignal: Sendable {
        private let state = Mutex<Int32?>(nil)
        func record(_ signal: Int32) { state.withLock { $0 = $0 ?? signal } }
        var value: Int32? { state.withLock { $0 } }
    }
}
