import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A unix socket that forwards every connection to an ssh-agent socket, so a RUN step sees the
/// agent at a socket with the owner and mode its `--mount=type=ssh` asks for (BuildKit's
/// default: 0:0, 0600) whatever the agent's own socket has. Bytes are relayed as they come; no
/// key material is read or kept.
final class AgentForwarder: @unchecked Sendable {
    let path: String
    private let agent: String
    private let listener: Int32
    private var stopPipe: [Int32] = [-1, -1]
    private let group = DispatchGroup()
    private var stopped = false

    init(agent: String, path: String, uid: UInt32, gid: UInt32, mode: UInt32) throws {
        self.agent = agent
        self.path = path
        guard path.utf8.count < 108 else { throw BuildError("ssh forwarding socket path too long: \(path)") }
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw BuildError("cannot create a socket: \(String(cString: strerror(errno)))") }
        do {
            var address = try Self.address(path)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard bound == 0, listen(listener, 16) == 0 else {
                throw BuildError("cannot listen on \(path): \(String(cString: strerror(errno)))")
            }
            guard chown(path, uid, gid) == 0, chmod(path, mode_t(mode)) == 0 else {
                throw BuildError("cannot set the owner and mode of \(path): \(String(cString: strerror(errno)))")
            }
            guard pipe(&stopPipe) == 0, fcntl(stopPipe[0], F_SETFD, FD_CLOEXEC) == 0,
                fcntl(stopPipe[1], F_SETFD, FD_CLOEXEC) == 0
            else {
                throw BuildError("cannot create a pipe: \(String(cString: strerror(errno)))")
            }
        } catch {
            close(listener)
            throw error
        }
        group.enter()
        Thread { [self] in
            acceptLoop()
            group.leave()
        }.start()
    }

    /// Stops accepting, closes every relayed connection and waits for the relays to end.
    func stop() {
        guard !stopped else { return }
        stopped = true
        var byte: UInt8 = 1
        _ = write(stopPipe[1], &byte, 1)
        group.wait()
        close(listener)
        close(stopPipe[0])
        close(stopPipe[1])
        unlink(path)
    }

    deinit { stop() }

    private static func address(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw BuildError("socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        return address
    }

    private func acceptLoop() {
        while true {
            var fds = [
                pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stopPipe[0], events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&fds, 2, -1) >= 0 || errno == EINTR else { return }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            guard let upstream = try? connectAgent() else {
                close(client)
                continue
            }
            group.enter()
            Thread { [self] in
                relay(client, upstream)
                close(client)
                close(upstream)
                group.leave()
            }.start()
        }
    }

    private func connectAgent() throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BuildError("socket") }
        var address = try Self.address(agent)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw BuildError("connect \(agent)")
        }
        return fd
    }

    /// Copies bytes both ways until either side closes or the forwarder stops.
    private func relay(_ a: Int32, _ b: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            var fds = [
                pollfd(fd: a, events: Int16(POLLIN), revents: 0),
                pollfd(fd: b, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stopPipe[0], events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&fds, 3, -1) >= 0 || errno == EINTR else { return }
            if fds[2].revents != 0 { return }
            for (from, to) in [(0, 1), (1, 0)] where fds[from].revents != 0 {
                let source = from == 0 ? a : b
                let sink = to == 0 ? a : b
                let n = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                var offset = 0
                while offset < n {
                    let written = buffer[offset..<n].withUnsafeBytes {
                        send(sink, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                    }
                    if written < 0 {
                        if errno == EINTR { continue }
                        return
                    }
                    offset += written
                }
            }
        }
    }
}
