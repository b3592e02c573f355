import ContainerRuntime
import DockerfileSyntax
import Foundation
import ImageStore
import OCIImage
import Snapshots

/// Builds Dockerfiles: parse → plan stages → run each instruction (from the cache when its key
/// is known) → commit snapshots → write the image and tag it.
public struct Builder: Sendable {
    public let store: ImageStore
    public let snapshotter: Snapshotter
    public let runtime: ContainerRuntime

    public init(store: ImageStore, runtime: ContainerRuntime) {
        self.store = store
        self.snapshotter = Snapshotter(store: store)
        self.runtime = runtime
    }

    /// Runs a build and returns the stored (and tagged) image.
    public func build(_ options: BuildOptions, progress: any ProgressSink) async throws(BuildError) -> StoredImage {
        try await buildResult(options, progress: progress).image
    }

    /// Runs a build and says what it made: the image, whether it stays in the store, and the
    /// manifest an `--output` wrote.
    public func buildResult(_ options: BuildOptions, progress: any ProgressSink) async throws(BuildError)
        -> BuildResult
    {
        let dockerfile = try loadDockerfile(options)
        for warning in dockerfile.warnings { progress.report(.warning(warning.description)) }
        let session = BuildSession(
            builder: self, options: options, dockerfile: dockerfile, progress: progress,
            ignore: try loadIgnore(options))
        do {
            let image = try await session.run()
            progress.finish()
            return image
        } catch {
            progress.finish()
            throw error
        }
    }

    private func loadDockerfile(_ options: BuildOptions) throws(BuildError) -> Dockerfile {
        let bytes: [UInt8]
        if let contents = options.dockerfileContents {
            bytes = contents
        } else {
            do {
                bytes = try FileSystem.read(options.dockerfilePath)
            } catch {
                throw BuildError("cannot read Dockerfile: \(error)")
            }
        }
        do {
            return try Dockerfile.parse(bytes, fileName: options.dockerfilePath)
        } catch {
            throw BuildError(error.description)
        }
    }

    /// `<Dockerfile>.dockerignore` beside the Dockerfile wins over the context's `.dockerignore`.
    private func loadIgnore(_ options: BuildOptions) throws(BuildError) -> IgnoreMatcher? {
        let candidates = [options.dockerfilePath + ".dockerignore", options.contextPath + "/.dockerignore"]
        for path in candidates where FileSystem.exists(path) {
            do {
                let text = String(decoding: try FileSystem.read(path), as: UTF8.self)
                let matcher = try IgnoreMatcher(patterns: IgnoreMatcher.patterns(fromIgnoreFile: text))
                try matcher.validate()
                return matcher
            } catch {
                throw BuildError("\(path): \(error)")
            }
        }
        return nil
    }
}
