@preconcurrency import Crypto
import Foundation

/// A validated content digest such as `sha256:9f86d0…`.
///
/// Only the algorithms berth can verify are accepted (sha256 and sha512), and the encoded part must
/// be lower-case hex of the algorithm's length, so a `Digest` is always safe to use as a file name.
public struct Digest: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// A digest algorithm berth can compute and verify.
    public enum Algorithm: String, Sendable, Codable, CaseIterable {
        case sha256
        case sha512

        /// Length of the hex-encoded value.
        public var hexLength: Int { self == .sha256 ? 64 : 128 }
    }

    public let algorithm: Algorithm
    /// The lower-case hex value.
    public let encoded: String

    /// Parses `algorithm:hex`, throwing ``OCIError/invalidDigest(_:reason:)`` when malformed.
    public init(parsing string: String) throws(OCIError) {
        guard let colon = string.firstIndex(of: ":") else {
            throw .invalidDigest(string, reason: "missing ':' between algorithm and value")
        }
        let name = String(string[..<colon])
        let hex = String(string[string.index(after: colon)...])
        guard let algorithm = Algorithm(rawValue: name) else {
            throw .invalidDigest(string, reason: "unsupported algorithm '\(name)'")
        }
        guard hex.utf8.count == algorithm.hexLength,
            hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else {
            throw .invalidDigest(
                string, reason: "value must be \(algorithm.hexLength) lower-case hex characters")
        }
        self.algorithm = algorithm
        self.encoded = hex
    }

    /// Builds a digest from an algorithm and a hex value already known to be valid.
    public init(algorithm: Algorithm, encoded: String) throws(OCIError) {
        try self.init(parsing: "\(algorithm.rawValue):\(encoded)")
    }

    /// `sha256:<hex>`.
    public var description: String { "\(algorithm.rawValue):\(encoded)" }
    public var string: String { description }

    /// The first 12 hex characters, as docker shows image ids.
    public var shortID: String { String(encoded.prefix(12)) }

    /// The SHA-256 digest of `bytes`.
    public static func sha256<D: DataProtocol>(of bytes: D) -> Digest {
        Digest(uncheckedAlgorithm: .sha256, hex: SHA256.hash(data: bytes).hexString)
    }

    /// The SHA-512 digest of `bytes`.
    public static func sha512<D: DataProtocol>(of bytes: D) -> Digest {
        Digest(uncheckedAlgorithm: .sha512, hex: SHA512.hash(data: bytes).hexString)
    }

    /// Computes the digest of `bytes` with this digest's algorithm and tells whether they match.
    public func matches<D: DataProtocol>(_ bytes: D) -> Bool {
        switch algorithm {
        case .sha256: Digest.sha256(of: bytes) == self
        case .sha512: Digest.sha512(of: bytes) == self
        }
    }

    init(uncheckedAlgorithm: Algorithm, hex: String) {
        self.algorithm = uncheckedAlgorithm
        self.encoded = hex
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        do {
            try self.init(parsing: raw)
        } catch {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }
}

/// Incremental SHA-256 for streams (layer tars, blobs being downloaded).
public struct DigestHasher {
    private var hasher = SHA256()
    public private(set) var byteCount: Int64 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
        byteCount += Int64(bytes.count)
    }

    public mutating func update<D: DataProtocol>(_ bytes: D) {
        hasher.update(data: bytes)
        byteCount += Int64(bytes.count)
    }

    /// The raw 32 bytes of the SHA-256 of everything fed so far.
    public func finalizeRaw() -> [UInt8] {
        Array(hasher.finalize())
    }

    /// The digest of everything fed so far.
    public func finalize() -> Digest {
        Digest(uncheckedAlgorithm: .sha256, hex: hasher.finalize().hexString)
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hex encoding.
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
