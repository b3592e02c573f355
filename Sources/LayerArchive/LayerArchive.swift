import OCIImage

/// Converts between directories and OCI layer tars with libarchive.
///
/// - ``writeDiff(upperDirectory:to:options:)``: an overlayfs upper directory → a layer tar, with
///   overlay whiteouts turned into `.wh.` entries.
/// - ``writeTree(directory:to:options:)``: a whole tree → a tar (export).
/// - ``unpack(layerAt:into:mode:)``: a layer tar → a snapshot directory (overlay whiteouts) or a
///   plain tree (whiteouts applied), refusing every entry that would land outside the target.
public enum LayerArchive {}

/// Options for writing layer tars.
public struct LayerWriteOptions: Sendable, Equatable {
    /// When set, file mtimes later than this (seconds since the epoch) are clamped to it, for
    /// reproducible layers (SOURCE_DATE_EPOCH).
    public var sourceDateEpoch: Int64?
    /// Write files with holes as sparse entries (PAX GNU.sparse 1.0), so a tar of a tree keeps
    /// them sparse. Off for layers: whether a run of zeros is a hole depends on how the file was
    /// written, and a layer's bytes must depend only on its content.
    public var preserveHoles: Bool
    /// Relative paths (no leading slash) left out with everything below them: a running
    /// container's mount points, whose contents are mounts, not changes.
    public var excludedPaths: Set<String>

    public init(sourceDateEpoch: Int64? = nil, preserveHoles: Bool = false, excludedPaths: Set<String> = []) {
        self.sourceDateEpoch = sourceDateEpoch
        self.preserveHoles = preserveHoles
        self.excludedPaths = excludedPaths
    }
}

/// The digest and size of an uncompressed layer tar (its diff ID) or of a compressed blob.
public struct LayerDigest: Sendable, Equatable {
    public var diffID: Digest
    public var size: Int64

    public init(diffID: Digest, size: Int64) {
        self.diffID = diffID
        self.size = size
    }
}

/// What to do with OCI whiteout entries when unpacking.
public enum WhiteoutMode: Sendable {
    /// The target is an overlay lower directory: `.wh.NAME` becomes a 0:0 character device and
    /// `.wh..wh..opq` marks its directory opaque (`trusted.overlay.opaque=y`).
    case overlay
    /// The target is a plain tree: whiteouts delete what they name.
    case apply
}

/// A layer archive failure, naming the archive or directory and the entry at fault.
public struct LayerArchiveError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var entry: String?
    public var message: String

    public init(path: String, entry: String? = nil, message: String) {
        self.path = path
        self.entry = entry
        self.message = message
    }

    public var description: String {
        if let entry { return "\(path): entry '\(entry)': \(message)" }
        return "\(path): \(message)"
    }
}
