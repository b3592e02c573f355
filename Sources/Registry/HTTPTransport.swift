import CHTTP
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One HTTP exchange through libcurl (loaded on first use, see CHTTP), on a thread of its own so
/// blocking transfers never hold a thread of Swift's cooperative pool.
public enum HTTPTransport {
    /// What a request sends.
    public enum Body: Sendable {
        case none
        case data(Data)
        /// `length` bytes of the file at `path`, from `offset`.
        case file(path: String, offset: Int64, length: Int64)
    }

    /// The final answer (after redirects): status, headers with lower-cased names, and the body
    /// unless it went to a file.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var data: Data
    }

    /// Failures below HTTP: the library, the connection, TLS, or the body's destination.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
        /// The answer went past the caller's `limit` (and was abandoned).
        public var tooLarge = false
    }

    /// Sends `method url`; a 2xx body goes to the file `downloadTo` when given (other answers'
    /// bodies are kept in memory, for their error messages).
    public static func send(
        _ method: String, _ url: URL, headers: [String: String] = [:], body: Body = .none, downloadTo: String? = nil,
        limit: Int? = nil, followRedirects: Bool = true, verifyTLS: Bool = true
    ) async throws(Failure) -> Response {
        let result: Result<Response, Failure> = await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(
                    returning: perform(
                        method, url, headers: headers, body: body, downloadTo: downloadTo, limit: limit,
                        followRedirects: followRedirects, verifyTLS: verifyTLS))
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        return try result.get()
    }

    /// Collects what libcurl delivers.
    private final class Exchange {
        var headers: [String: String] = [:]
        var status = 0
        var data = Data()
        let downloadTo: String?
        let limit: Int?
        var file: Int32 = -1
        var failure: String?
        var tooLarge = false

        init(downloadTo: String?, limit: Int?) {
            self.downloadTo = downloadTo
            self.limit = limit
        }

        func header(_ line: String) {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.hasPrefix("HTTP/") {
                // A new response (after a redirect or a 100 Continue): start over.
                headers = [:]
                status = trimmed.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            } else if let colon = trimmed.firstIndex(of: ":") {
                let name = trimmed[..<colon].lowercased()
                headers[name] = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }

        func body(_ bytes: UnsafeRawBufferPointer) -> Bool {
            guard let downloadTo, (200..<300).contains(status) else {
                if let limit, data.count + bytes.count > limit {
                    failure = "the answer is larger than \(limit) bytes"
                    tooLarge = true
                    return false
                }
                data.append(contentsOf: bytes)
                return true
            }
            if file < 0 {
                unlink(downloadTo)
                file = open(downloadTo, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                guard file >= 0 else {
                    failure = "cannot create \(downloadTo): \(String(cString: strerror(errno)))"
                    return false
                }
            }
            var offset = 0
            while offset < bytes.count {
                let n = write(file, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    failure = "cannot write \(downloadTo): \(String(cString: strerror(errno)))"
                    return false
                }
                offset += n
            }
            return true
        }
    }

    private static func perform(
        _ method: String, _ url: URL, headers: [String: String], body: Body, downloadTo: String?, limit: Int?,
        followRedirects: Bool, verifyTLS: Bool
    ) -> Result<Response, Failure> {
        let exchange = Exchange(downloadTo: downloadTo, limit: limit)
        defer { if exchange.file >= 0 { close(exchange.file) } }
        var bodyFile: Int32 = -1
        defer { if bodyFile >= 0 { close(bodyFile) } }
        var payload = Data()
        var length: Int64 = 0
        switch body {
        case .none: break
        case .data(let data):
            payload = data
            length = Int64(data.count)
        case .file(let path, let offset, let count):
            bodyFile = open(path, O_RDONLY | O_CLOEXEC)
            guard bodyFile >= 0, lseek(bodyFile, off_t(offset), SEEK_SET) == off_t(offset) else {
                return .failure(Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))"))
            }
            length = count
        }
        let lines = headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        let context = Unmanaged.passUnretained(exchange).toOpaque()
        var status = 0
        var message = [CChar](repeating: 0, count: 512)
        let rc: Int32 = withCStrings(lines) { headerPointers in
            method.withCString { method in
                url.absoluteString.withCString { address in
                    payload.withUnsafeBytes { bytes in
                        var request = berth_http_request()
                        request.method = method
                        request.url = address
                        request.headers = headerPointers.baseAddress
                        request.header_count = Int32(headerPointers.count)
                        if case .data = body {
                            // A non-NULL pointer even for an empty body: it says "there is a body".
                            request.body = bytes.baseAddress ?? UnsafeRawPointer(context)
                        }
                        request.body_fd = bodyFile
                        request.body_length = length
                        request.follow_redirects = followRedirects ? 1 : 0
                        request.verify_tls = verifyTLS ? 1 : 0
                        request.connect_timeout_seconds = 30
                        request.stall_timeout_seconds = 60
                        return berth_http_perform(
                            &request,
                            { context, data, length in
                                guard let context, let data else { return 0 }
                                let exchange = Unmanaged<Exchange>.fromOpaque(context).takeUnretainedValue()
                                return exchange.body(UnsafeRawBufferPointer(start: data, count: length)) ? 0 : 1
                            },
                            { context, data, length in
                                guard let context, let data else { return 0 }
                                let exchange = Unmanaged<Exchange>.fromOpaque(context).takeUnretainedValue()
                                exchange.header(
                                    String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self))
                                return 0
                            }, context, &status, &message, message.count)
                    }
                }
            }
        }
        if let failure = exchange.failure {
            return .failure(Failure(description: failure, tooLarge: exchange.tooLarge))
        }
        guard rc == 0 else {
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return .failure(Failure(description: text))
        }
        if let downloadTo, (200..<300).contains(status), exchange.file < 0 {
            // An empty body: still an (empty) file.
            let fd = open(downloadTo, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd >= 0 { close(fd) }
        }
        return .success(Response(status: status, headers: exchange.headers, data: exchange.data))
    }

    /// `strings` as a C array of C strings for the duration of `body`.
    private static func withCStrings<T>(
        _ strings: [String], _ body: (UnsafeBufferPointer<UnsafePointer<CChar>?>) -> T
    ) -> T {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer($0) }
        return pointers.withUnsafeBufferPointer(body)
    }
}
