import ArgumentParser
import BuildEngine
import Foundation
import OCIImage

#if canImport(Glibc)
    import Glibc
#endif

/// `--output`, `--iidfile` and `--metadata-file` of `berth build`.
extension BuildCommand {
    static let progressModes = ["auto", "tty", "plain", "json", "quiet"]

    /// The parsed `--output` values.
    func parsedOutputs() throws -> [BuildOutput] {
        do {
            return try outputs.map { try BuildOutput.parse($0, flag: "--output") }
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func validateOutputs() throws {
        let parsed = try parsedOutputs()
        let toStdout = parsed.filter(\.isStandardOutput)
        if toStdout.count > 1 {
            throw ValidationError("--output: only one output can be written to standard output (dest=-)")
        }
        if !toStdout.isEmpty {
            if quiet || progress == "quiet" {
                throw ValidationError(
                    "-q/--progress quiet print the image id on standard output, which --output dest=- already uses")
            }
            if isatty(1) != 0 {
                throw ValidationError(
                    "--output dest=-: refusing to write a tar archive to a terminal; redirect standard output")
            }
        }
        for path in [iidFile, metadataFile].compactMap({ $0 }) where path.isEmpty {
            throw ValidationError("--iidfile and --metadata-file need a file name")
        }
    }

    /// Writes `--iidfile` (the image id, as docker writes it: no newline) and `--metadata-file`
    /// (buildx's keys).
    func writeResultFiles(_ result: BuildResult, tags: [ImageReference]) throws {
        if let iidFile {
            try Self.write(Data(result.image.id.description.utf8), to: iidFile, flag: "--iidfile")
        }
        if let metadataFile {
            var metadata: [String: Any] = [
                "containerimage.config.digest": result.image.id.description,
                "containerimage.digest": result.manifest.digest.description,
                "containerimage.descriptor": [
                    "mediaType": result.manifest.mediaType,
                    "digest": result.manifest.digest.description,
                    "size": result.manifest.size,
                ] as [String: Any],
            ]
            if !tags.isEmpty { metadata["image.name"] = tags.map(\.description).joined(separator: ",") }
            let data = try JSONSerialization.data(
                withJSONObject: metadata, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try Self.write(data + Data("\n".utf8), to: metadataFile, flag: "--metadata-file")
        }
    }

    private static func write(_ data: Data, to path: String, flag: String) throws {
        do {
            try data.write(to: URL(fileURLWithPath: absolute(path)), options: .atomic)
        } catch {
            throw BerthError("\(flag) \(path): \(error.localizedDescription)")
        }
    }
}
