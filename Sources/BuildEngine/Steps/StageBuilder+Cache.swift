import Foundation
import ImageStore
import LayerArchive
import OCIImage
import Snapshots

/// What the cache keeps for a file-system step.
struct StepRecord: Codable {
    /// Chain id of the step's snapshot, or nil when the step changed nothing.
    var chain: String?
    /// When the step first ran (history time), so cached rebuilds reproduce the same image.
    var created: String
}

extension StageBuilder {
    /// `--no-cache`, or this stage is named by `--no-cache-filter`: cache hits are ignored (the
    /// results are still recorded for later builds).
    var ignoresCache: Bool {
        if session.options.noCache { return true }
        let filter = session.options.noCacheFilter
        guard !filter.isEmpty else { return false }
        return filter.contains { $0.lowercased() == stage.name || Int($0) == index }
    }

    /// Answers a file-system step from the cache, or runs `execute` and records its result.
    /// `execute` returns the new snapshot, or nil when the step changed nothing.
    func fileSystemStep(
        _ state: inout State, position: Int, title: String, key: CacheKey, createdBy: String,
        inputs: StepInputs? = nil, execute: (_ step: Int) async throws -> SnapshotRecord?
    ) async throws {
        let step = session.nextStep()
        session.progress.report(.started(step: step, name: "\(label(position)) \(title)"))
        let started = Date()
        let cached = ignoresCache ? nil : try await cachedRecord(key)
        explain(inputs, state: state, key: key, step: step, missed: cached == nil)
        if let record = cached {
            if let chain = record.chain {
                guard let digest = try? Digest(parsing: chain),
                    let snapshot = try await session.store.snapshot(chainID: digest),
                    FileSystem.exists(session.snapshotter.filesPath(of: snapshot.id))
                else {
                    if session.options.explain {
                        session.progress.report(
                            .explain(step: step, reasons: ["the cached result's snapshot is gone (pruned)"]))
                    }
                    return try await run(
                        &state, step: step, started: started, key: key, createdBy: createdBy, execute: execute)
                }
                state.layers.append(snapshot)
            }
            session.progress.report(.cached(step: step))
            session.recordUsed(key.value, record, stage: index)
            state.key = key
            state.created = record.created
            addHistory(&state, createdBy, empty: record.chain == nil)
            return
        }
        try await run(&state, step: step, started: started, key: key, createdBy: createdBy, execute: execute)
    }

    private func run(
        _ state: inout State, step: Int, started: Date, key: CacheKey, createdBy: String,
        execute: (_ step: Int) async throws -> SnapshotRecord?
    ) async throws {
        let snapshot: SnapshotRecord?
        do {
            snapshot = try await execute(step)
        } catch {
            session.progress.report(
                .failed(
                    step: step, message: "\(error)".split(separator: "\n").first.map(String.init) ?? "",
                    seconds: Date().timeIntervalSince(started)))
            throw error
        }
        let created = session.timestamp()
        if let snapshot { state.layers.append(snapshot) }
        let record = StepRecord(chain: snapshot?.chainID?.description, created: created)
        session.recordUsed(key.value, record, stage: index)
        if let json = try? JSONEncoder().encode(record) {
            try await session.store.putCacheRecord(
                key.value, result: String(decoding: json, as: UTF8.self), snapshot: snapshot?.chainID)
        }
        state.key = key
        state.created = created
        addHistory(&state, createdBy, empty: snapshot == nil)
        session.progress.report(.done(step: step, seconds: Date().timeIntervalSince(started)))
    }

    /// The local record for `key`, else one from `--cache-from` (its layers fetched now).
    private func cachedRecord(_ key: CacheKey) async throws -> StepRecord? {
        if let text = try await session.store.cacheRecord(key.value),
            let record = try? JSONDecoder().decode(StepRecord.self, from: Data(text.utf8))
        {
            return record
        }
        return try await session.imported?.materialize(key.value, snapshotter: session.snapshotter)
    }

    /// Prepares an active snapshot on top of the current layers, mounts it, runs `body` with the
    /// merged root, unmounts, and commits it (nil when nothing changed and `dropEmpty`).
    func withMountedStep(
        _ state: State, dropEmpty: Bool = false, _ body: (ActiveSnapshot) async throws -> Void
    ) async throws -> SnapshotRecord? {
        let snapshotter = session.snapshotter
        let active = try await snapshotter.prepare(parent: state.layers.last)
        do {
            try snapshotter.mount(active, lowers: state.layers.reversed(), volatile: true)
            try await body(active)
            try snapshotter.unmount(active)
        } catch {
            try? await snapshotter.discard(active)
            throw error
        }
        if dropEmpty, (try? FileWalk.children(of: active.upperPath))?.isEmpty ?? false {
            try await snapshotter.discard(active)
            return nil
        }
        do {
            return try await snapshotter.commit(
                active, options: LayerWriteOptions(sourceDateEpoch: session.options.sourceDateEpoch), deferBlob: true)
        } catch {
            // Interrupted (or failed) while writing the layer: the snapshot must not stay active.
            try? await snapshotter.discard(active)
            throw error
        }
    }
}
