import ContainerRuntime
import Foundation
import ImageStore
import OCIImage
import Registry

#if canImport(Glibc)
    import Glibc
#endif

/// A file ADD fetched over HTTP(S): saved as it was served (never extracted).
struct RemoteSource: Sendable {
    var url: String
    /// The downloaded bytes, in the store's temporary directory.
    var path: String
    var digest: Digest
    /// The name the file gets under a destination directory: the URL path's last component.
    var fileName: String
    /// From the `Last-Modified` header, when the server sent one.
    var lastModified: Date?

    /// Downloads `url` to `path`. `checksum` (`sha256:…`, from `ADD --checksum`) is verified.
    static func download(_ url: String, to path: String, checksum: String?) async throws -> RemoteSource {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            scheme == "http" || scheme == "https", parsed.host != nil
        else {
            throw BuildError("ADD \(url): not a valid http(s) URL")
        }
        let expected: Digest?
        do {
            expected = try checksum.map { try Digest(parsing: $0) }
        } catch {
            throw BuildError("ADD \(url): invalid --checksum '\(checksum ?? "")': \(error)")
        }
        let response: HTTPTransport.Response
        do {
            response = try await HTTPTransport.send("GET", parsed, downloadTo: path, limit: 64 << 10)
        } catch {
            throw BuildError("ADD \(url): \(error)")
        }
        guard (200..<300).contains(response.status) else {
            unlink(path)
            throw BuildError("ADD \(url): HTTP \(response.status)")
        }
        let digest: Digest
        do {
            digest = try FileSystem.digest(ofFile: path).digest
        } catch {
            unlink(path)
            throw BuildError("ADD \(url): \(error)")
        }
        if let expected, expected != digest {
            unlink(path)
            throw BuildError("ADD \(url): checksum mismatch: expected \(expected), got \(digest)")
        }
        let lastModified = response.headers["last-modified"].flatMap(Self.parseHTTPDate)
        return RemoteSource(
            url: url, path: path, digest: digest, fileName: fileName(of: parsed), lastModified: lastModified)
    }

    /// The last component of the URL's path, or `__unnamed__` for a URL without one.
    static func fileName(of url: URL) -> String {
        let name = url.path.slashComponents().last ?? ""
        return name.isEmpty || name == "." || name == ".." ? "__unnamed__" : name
    }

    /// An RFC 7231 date (`Sun, 06 Nov 1994 08:49:37 GMT`).
    static func parseHTTPDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
