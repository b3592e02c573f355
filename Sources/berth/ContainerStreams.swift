import BuildEngine
import CRuntimeShim
import ContainerRuntime
import Dispatch
import Foundation
import ImageStore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A container's standard streams as the CLI wires them: berth's own descriptors, a
/// pseudo-terminal (`-t`) proxied to berth's terminal, or pipes copied into the container's log
/// (and to berth's output when attached).
final class ContainerStreams: @unchecked Sendable {
    /// What the runtime gives the container.
    let io: ProcessIO
    private var childEnds: [Int32] = []
    private var copiers: [Thread] = []
    private let copied = DispatchGroup()
    private var savedTerminal: [UInt8]?
    private var resize: DispatchSourceSignal?

    /// `attached`: copy output to berth's stdout/stderr (foreground); `log`: also keep it.
    /// `terminalOutput`: where an attached terminal's output goes (stdout unless told).
    init(
        terminal: Bool, interactive: Bool, attached: Bool, log: ContainerLog?, terminalOutput: Int32 = 1
    ) throws {
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        if terminal {
            var master: Int32 = -1
            var slave: Int32 = -1
            guard berth_open_pty(&master, &slave) == 0 else {
                throw BerthError("cannot open a pseudo-terminal: \(String(cString: strerror(errno)))")
            }
            io = .descriptors(stdin: slave, stdout: slave, stderr: slave)
            childEnds = [slave, devNull]
            if attached && isatty(0) != 0 {
                _ = berth_copy_window_size(0, master)
                let source = DispatchSource.makeSignalSource(signal: SIGWINCH)
                signal(SIGWINCH, SIG_IGN)
                source.setEventHandler { _ = berth_copy_window_size(0, master) }
                source.resume()
                resize = source
            } else {
                _ = berth_set_window_size(master, 24, 80)
            }
            if attached && interactive && isatty(0) != 0 {
                var saved = [UInt8](repeating: 0, count: Int(berth_termios_size))
                if berth_make_raw(0, &saved) == 0 { savedTerminal = saved }
            }
            startCopy(from: master, to: attached ? terminalOutput : -1, stream: "stdout", log: log, closeSource: true)
            if attached && interactive { startInput(to: master) }
            return
        }
        let stdin = attached && interactive ? 0 : devNull
        if !attached || log != nil {
            var out: [Int32] = [-1, -1]
            var err: [Int32] = [-1, -1]
            guard berth_pipe(&out) == 0, berth_pipe(&err) == 0 else {
                throw BerthError("cannot create pipes: \(String(cString: strerror(errno)))")
            }
            io = .descriptors(stdin: stdin, stdout: out[1], stderr: err[1])
            childEnds = [out[1], err[1], devNull]
            startCopy(from: out[0], to: attached ? 1 : -1, stream: "stdout", log: log, closeSource: true)
            startCopy(from: err[0], to: attached ? 2 : -1, stream: "stderr", log: log, closeSource: true)
        } else {
            io = .descriptors(stdin: stdin, stdout: 1, stderr: 2)
            childEnds = [devNull]
        }
    }

    /// The container has its copies: close berth's, so the copies end when the container does.
    func started() {
        for fd in childEnds { close(fd) }
        childEnds = []
    }

    /// Waits (briefly) for the output to drain and puts berth's terminal back.
    func finish() {
        started()
        _ = copied.wait(timeout: .now() + 2)
        restoreTerminal()
        resize?.cancel()
    }

    func restoreTerminal() {
        if let saved = savedTerminal {
            _ = berth_restore_terminal(0, saved)
            savedTerminal = nil
        }
    }

    private func startCopy(from source: Int32, to target: Int32, stream: String, log: ContainerLog?, closeSource: Bool)
    {
        copied.enter()
        let group = copied
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 32768)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }  // EOF, or EIO once the terminal's last user is gone
                let chunk = Array(buffer[0..<n])
                if target >= 0 { _ = FileSystem.writeAll(target, chunk) }
                log?.append(stream, chunk)
            }
            if closeSource { close(source) }
            group.leave()
        }
        thread.start()
        copiers.append(thread)
    }

    private func startInput(to master: Int32) {
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                _ = FileSystem.writeAll(master, Array(buffer[0..<n]))
            }
        }
        thread.start()
    }

}

/// Forwards the signals berth receives to a container process (docker's sig-proxy). SIGINT and
/// SIGTERM also start a countdown: if the container is still running `timeout` seconds later,
/// it is killed, so berth never hangs on a container that ignores them.
final class SignalForwarder: @unchecked Sendable {
    private let target = Mutex<pid_t>(0)
    private var sources: [DispatchSourceSignal] = []
    private let received = Mutex<Int32?>(nil)

    init(timeout: Int) {
        for signalNumber in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber)
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.received.withLock { $0 = signalNumber }
                let pid = self.target.withLock { $0 }
                guard pid > 0 else { return }
                kill(pid, signalNumber)
                if signalNumber == SIGINT || signalNumber == SIGTERM {
                    DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(timeout)) {
                        if self.target.withLock({ $0 }) == pid { kill(pid, SIGKILL) }
                    }
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The process to forward to (0 once it has ended).
    func forward(to pid: pid_t) { target.withLock { $0 = pid } }

    /// The last signal berth received, if any.
    var lastSignal: Int32? { received.withLock { $0 } }

    func stop() {
        target.withLock { $0 = 0 }
        for source in sources { source.cancel() }
        for signalNumber in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2] { signal(signalNumber, SIG_DFL) }
    }
}
