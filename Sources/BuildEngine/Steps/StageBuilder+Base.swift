import DockerfileSyntax
import Foundation
import ImageStore
import OCIImage
import Snapshots

extension StageBuilder {
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The state a stage starts from: `scratch`, an earlier stage, or an image in the store.
    func resolveBase() async throws(BuildError) -> State {
        let step = session.nextStep()
        let started = Date()
        session.progress.report(.started(step: step, name: "\(label(1)) FROM \(baseName)"))
        let platform = Platform.host.description
        var state: State
        var inputs = StepInputs(
            stage: index, slot: 0, kind: "base", instruction: Self.oneLine(stage.original), parent: nil)
        inputs.fields["base"] = baseName
        if baseName.lowercased() == "scratch" {
            state = State(
                config: ImageConfig(), layers: [],
                key: CacheKey.base("scratch", platform: platform, sourceDateEpoch: session.options.sourceDateEpoch),
                history: [], created: session.timestamp())
            inputs.fields["base image"] = "scratch"
        } else if let earlier = earlierStage(baseName), let result = session.result(ofStage: earlier) {
            state = State(
                config: result.config, layers: result.layers, key: result.key, history: result.history,
                created: result.created)
            state.onBuildTriggers = state.containerConfig.onBuild ?? []
            state.containerConfig.onBuild = nil
            inputs.fields["base stage"] = session.dockerfile.stages[earlier].name ?? String(earlier)
        } else {
            let image: StoredImage
            do {
                let local = session.options.pull ? nil : try? await session.store.image(named: baseName)
                if let local {
                    image = local
                } else {
                    image = try await pullBase()
                }
            } catch {
                let message = "base image '\(baseName)' is not in the local store and could not be pulled: \(error)"
                session.progress.report(.failed(step: step, message: message, seconds: 0))
                throw BuildError(message, fileName: fileName, location: stage.location)
            }
            let layers = try await snapshots(of: image)
            state = State(
                config: image.config, layers: layers,
                key: CacheKey.base(
                    image.id.description, platform: platform, sourceDateEpoch: session.options.sourceDateEpoch),
                history: image.config.history ?? [], created: image.config.created ?? session.timestamp())
            state.onBuildTriggers = state.containerConfig.onBuild ?? []
            state.containerConfig.onBuild = nil
            inputs.fields["base image"] = image.id.description
        }
        inputs.key = state.key.value
        let reasons = session.explainer.step(inputs, progressStep: step, missed: true, noCache: session.options.noCache)
        if !reasons.isEmpty { session.progress.report(.explain(step: step, reasons: reasons)) }
        if state.containerConfig.environmentValue("PATH") == nil {
            state.containerConfig.setEnvironment("PATH", Self.defaultPath)
        }
        session.progress.report(.done(step: step, seconds: Date().timeIntervalSince(started)))
        return state
    }

    /// Pulls the base image from its registry (FROM of an image the store lacks, or `--pull`).
    private func pullBase() async throws -> StoredImage {
        let reference = try ImageReference(parsing: baseName)
        let platform = stage.platform.flatMap { try? Platform(parsing: $0) } ?? .host
        return try await ImagePuller(store: session.store, settings: session.options.registry) { _ in }
            .pull(reference, platform: platform)
    }

    /// The index of an earlier stage named `name` (or given by number).
    func earlierStage(_ name: String) -> Int? {
        if let n = Int(name), n >= 0, n < index { return n }
        return session.dockerfile.stages[..<index].lastIndex { $0.name == name.lowercased() }
    }

    /// The committed snapshots of an image's layers (bottom first), unpacking missing ones.
    func snapshots(of image: StoredImage) async throws(BuildError) -> [SnapshotRecord] {
        do {
            return try await session.snapshotter.snapshots(of: image)
        } catch {
            throw BuildError(error.description)
        }
    }
}
