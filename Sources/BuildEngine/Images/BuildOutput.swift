import Foundation
import ImageStore
import LayerArchive
import OCIImage
import Snapshots

#if canImport(Glibc)
    import Glibc
#endif

/// One `--output` of `berth build`, as docker buildx spells them: `type=oci|docker|tar|local,dest=…`,
/// a bare directory (the local exporter) or `-` (a tar of the file system on standard output).
public struct BuildOutput: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// An OCI image layout tar (gzip layers).
        case oci
        /// A docker-archive that `docker load` reads (and that is also an OCI layout), with the -t names.
        case docker
        /// The final stage's flattened file system as a tar, no image metadata.
        case tar
        /// The final stage's flattened file system written into a directory.
        case local
    }

    public var kind: Kind
    /// A file, a directory (`local`) or `-` for standard output (tar formats only).
    public var destination: String

    public init(kind: Kind, destination: String) {
        self.kind = kind
        self.destination = destination
    }

    /// Whether this output goes to standard output.
    public var isStandardOutput: Bool { destination == "-" }

    /// Parses one `--output` value; errors name `flag` and the value.
    public static func parse(_ text: String, flag: String = "--output") throws(BuildError) -> BuildOutput {
        let kinds = Kind.allCases.map(\.rawValue).joined(separator: ", ")
        guard !text.isEmpty else {
            throw BuildError("invalid \(flag) '': expected type=\(kinds),dest=PATH or a directory")
        }
        if !text.contains("=") && !text.contains(",") {
            return text == "-"
                ? BuildOutput(kind: .tar, destination: "-") : BuildOutput(kind: .local, destination: text)
        }
        var fields: [String: String] = [:]
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, !pair[0].isEmpty else {
                throw BuildError("invalid \(flag) '\(text)': '\(part)' is not key=value")
            }
            let key = pair[0].trimmingCharacters(in: .whitespaces).lowercased()
            guard fields[key] == nil else { throw BuildError("invalid \(flag) '\(text)': \(key) given twice") }
            fields[key] = pair[1]
        }
        guard let typeName = fields.removeValue(forKey: "type") else {
            throw BuildError("invalid \(flag) '\(text)': type=… is required (\(kinds))")
        }
        guard let kind = Kind(rawValue: typeName) else {
            throw BuildError("invalid \(flag) '\(text)': unsupported type '\(typeName)' (use \(kinds))")
        }
        guard let destination = fields.removeValue(forKey: "dest"), !destination.isEmpty else {
            throw BuildError(
                "invalid \(flag) '\(text)': dest=\(kind == .local ? "DIRECTORY" : "FILE (or - for standard output)") is required"
            )
        }
        if let unknown = fields.keys.sorted().first {
            throw BuildError(
                "invalid \(flag) '\(text)': unknown attribute '\(unknown)' (only type and dest are supported)")
        }
        if kind == .local && destination == "-" {
            throw BuildError(
                "invalid \(flag) '\(text)': type=local writes a directory; use type=tar,dest=- for standard output")
        }
        return BuildOutput(kind: kind, destination: destination)
    }

    /// What the progress shows while this output is written (BuildKit's wording).
    var title: String {
        let target = destination == "-" ? "standard output" : destination
        switch kind {
        case .oci: return "exporting to oci image format \(target)"
        case .docker: return "exporting to docker image format \(target)"
        case .tar, .local: return "exporting to client \(kind == .local ? "directory" : "tarball") \(target)"
        }
    }
}

/// Writes a built image to its `--output`s, reusing `save` (oci, docker) and `export` (tar, local).
public struct BuildOutputWriter: Sendable {
    public let store: ImageStore

    public init(store: ImageStore) {
        self.store = store
    }

    /// Writes `image` (stored, named by `tags` when any) to `output`. Returns the descriptor of
    /// the manifest written for the image formats, nil for file-system outputs.
    @discardableResult
    public func write(_ output: BuildOutput, image: StoredImage, tags: [ImageReference]) async throws -> Descriptor? {
        let names = tags.isEmpty ? [image.id.description] : tags.map(\.description)
        switch output.kind {
        case .docker:
            return try await ImageSaver(store: store).save(names, to: output.destination, format: .docker).first
        case .oci:
            return try await ImageSaver(store: store).save(
                names, to: output.destination, format: .oci, compression: .gzip
            ).first
        case .tar:
            try await ImageExporter(store: store).export(image.id.description, to: output.destination)
            return nil
        case .local:
            try FileSystem.makeDirectory(output.destination)
            let tar = store.temporaryPath("output") + ".tar"
            defer { unlink(tar) }
            try await ImageExporter(store: store).export(image.id.description, to: tar)
            _ = try LayerArchive.unpack(layerAt: tar, into: output.destination, mode: .apply)
            return nil
        }
    }
}
