import Foundation
import ImageStore
import OCIImage

/// What a build made.
public struct BuildResult: Sendable {
    /// The image (its id is the config digest).
    public var image: StoredImage
    /// False when `--output` was given without `-t`: like `docker buildx build --output`, the
    /// image is then only written to its outputs, not kept in the store (its layers stay as
    /// build cache).
    public var keptInStore: Bool
    /// The image's manifest as written by an `oci` or `docker` output, else as stored.
    public var manifest: Descriptor
}

extension BuildSession {
    /// Writes the `--output`s, one progress step each, and drops the image from the store when
    /// outputs were asked for without tags (unless the store already had it).
    func writeOutputs(_ image: StoredImage, existedBefore: Bool) async throws(BuildError) -> BuildResult {
        var manifest: Descriptor
        do {
            manifest = Descriptor(
                mediaType: MediaType.ociManifest, digest: image.manifestDigest,
                size: Int64(try await store.readBlob(image.manifestDigest).count))
        } catch {
            throw BuildError("cannot read the image manifest: \(error)")
        }
        let writer = BuildOutputWriter(store: store)
        var wroteOCI = false
        for output in options.outputs {
            let step = nextStep()
            progress.report(.started(step: step, name: output.title))
            let started = Date()
            do {
                // The OCI layout's (gzip) manifest is the one buildx reports; else the docker archive's.
                if let written = try await writer.write(output, image: image, tags: options.tags),
                    output.kind == .oci || !wroteOCI
                {
                    manifest = written
                    wroteOCI = wroteOCI || output.kind == .oci
                }
            } catch {
                let message = "cannot write --output \(output.kind.rawValue) to \(output.destination): \(error)"
                progress.report(.failed(step: step, message: message, seconds: Date().timeIntervalSince(started)))
                throw BuildError(message)
            }
            progress.report(.done(step: step, seconds: Date().timeIntervalSince(started)))
        }
        let kept = options.outputs.isEmpty || !options.tags.isEmpty || existedBefore
        if !kept {
            do {
                try await store.deleteImage(image.id)
            } catch {
                throw BuildError("cannot drop the untagged image from the store: \(error)")
            }
        }
        return BuildResult(image: image, keptInStore: kept, manifest: manifest)
    }
}
