/// Errors of the image store, each naming what failed and where.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    case database(path: String, message: String)
    case io(path: String, operation: String, errno: Int32)
    case digestMismatch(expected: String, actual: String, path: String)
    case imageNotFound(String)
    case blobNotFound(String)
    case snapshotNotFound(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .database(let path, let message): "store database \(path): \(message)"
        case .io(let path, let operation, let code):
            "\(operation) \(path): \(String(cString: strerror(code)))"
        case .digestMismatch(let expected, let actual, let path):
            "content of \(path) has digest \(actual), expected \(expected)"
        case .imageNotFound(let name): "image '\(name)' not found in the store"
        case .blobNotFound(let digest): "blob \(digest) is missing from the store"
        case .snapshotNotFound(let id): "snapshot \(id) not found"
        case .invalid(let message): message
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
