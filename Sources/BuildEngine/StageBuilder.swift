import ContainerRuntime
import DockerfileSyntax
import Foundation
import ImageStore
import OCIImage
import Snapshots

/// Builds one stage: resolves its base, then dispatches each instruction, keeping the running
/// image config, the layer chain and the cache key.
struct StageBuilder {
    let session: BuildSession
    let index: Int
    let stage: Stage
    let baseName: String
    let globalArgs: [String: String]
    /// File-system steps the base image's ONBUILD triggers add (for the step labels).
    var triggerVertices = 0

    /// The mutable state while the stage's instructions run.
    struct State {
        var config: ImageConfig
        var layers: [SnapshotRecord]
        var key: CacheKey
        var history: [History]
        var created: String
        /// ARGs declared in this stage, in order, with their values (nil: declared without value).
        var args: [(name: String, value: String?)] = []
        /// Whether CMD was set in this stage (ENTRYPOINT resets an inherited CMD).
        var cmdSet = false
        /// The running instruction's slot: 1 for the first after FROM (`--explain` matches by it).
        var slot = 0
        /// The base's ONBUILD triggers, run right after FROM (never inherited further).
        var onBuildTriggers: [String] = []

        var containerConfig: ContainerConfig {
            get { config.config ?? ContainerConfig() }
            set { config.config = newValue }
        }

        /// Expansion lookup: ENV shadows ARG.
        func lookup(_ name: String) -> String? {
            if let value = containerConfig.environmentValue(name) { return value }
            return args.last { $0.name == name }?.value
        }
    }

    var fileName: String { session.dockerfile.fileName }
    var escapeToken: Character { session.dockerfile.directives.escapeToken }

    /// Numbered vertices: FROM plus every instruction that touches the file system.
    var vertexCount: Int {
        1 + triggerVertices
            + stage.commands.filter {
                switch $0 {
                case .run, .copy, .workdir: true
                default: false
                }
            }.count
    }

    func label(_ position: Int) -> String {
        let multiStage = session.dockerfile.stages.count > 1
        let name = stage.name ?? "stage-\(index)"
        return multiStage ? "[\(name) \(position)/\(vertexCount)]" : "[\(position)/\(vertexCount)]"
    }

    func build() async throws(BuildError) -> StageResult {
        var state = try await resolveBase()
        let triggers = try parseTriggers(state.onBuildTriggers)
        state.onBuildTriggers = []
        var builder = self
        builder.triggerVertices = triggers.filter(\.touchesFileSystem).count
        return try await builder.build(from: state, triggers: triggers)
    }

    private func build(from initial: State, triggers: [Trigger]) async throws(BuildError) -> StageResult {
        var state = initial
        var position = 1
        try await runTriggers(triggers, state: &state, position: &position)
        for (slot, command) in stage.commands.enumerated() {
            let info = command.info
            state.slot = slot + 1
            do {
                try await dispatch(command, state: &state, position: &position)
            } catch let error as BuildError {
                throw located(error, info)
            } catch {
                throw located(BuildError("\(error)"), info)
            }
        }
        return StageResult(
            config: state.config, layers: state.layers, key: state.key, history: state.history,
            created: state.created)
    }

    /// Runs one instruction (variables expanded first where the instruction allows it).
    func dispatch(_ command: Command, state: inout State, position: inout Int) async throws {
        let expanded: Command
        switch command {
        case .run, .cmd, .entrypoint, .shell, .onbuild, .healthcheck, .maintainer:
            expanded = command
        default:
            expanded = try command.expanded(escapeToken: escapeToken) { state.lookup($0) }
        }
        switch expanded {
        case .run(let run):
            position += 1
            try await runStep(run, state: &state, position: position)
        case .copy(let copy):
            position += 1
            try await copyStep(copy, state: &state, position: position)
        case .workdir(let workdir):
            position += 1
            try await workdirStep(workdir, state: &state, position: position)
        default:
            try applyMetadata(expanded, state: &state)
        }
    }

    /// Adds the file name, location and a source excerpt to an error about `info`.
    func located(_ error: BuildError, _ info: CommandInfo) -> BuildError {
        guard error.location == nil else { return error }
        var copy = error
        copy.fileName = fileName
        copy.location = info.location
        copy.excerpt = SourceExcerpt.make(
            session.options.dockerfileContents ?? (try? FileSystem.read(session.options.dockerfilePath)) ?? [],
            range: info.location)
        return copy
    }

    /// Records a history entry.
    func addHistory(_ state: inout State, _ createdBy: String, empty: Bool) {
        state.history.append(
            History(
                created: state.created, createdBy: createdBy, comment: empty ? nil : "buildkit.dockerfile.v0",
                emptyLayer: empty ? true : nil))
    }
}

/// Dockerfile lines around a failing instruction, the instruction marked with `>>>`.
enum SourceExcerpt {
    static func make(_ bytes: [UInt8], range: SourceRange) -> String? {
        guard !bytes.isEmpty else { return nil }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let first = max(1, range.startLine - 2)
        let count = lines.last?.isEmpty == true ? lines.count - 1 : lines.count  // no line after the final newline
        let last = min(count, range.endLine + 2)
        guard first <= last else { return nil }
        var out = ""
        for number in first...last {
            let marker = (range.startLine...range.endLine).contains(number) ? ">>>" : "   "
            out += " \(marker) \(String(format: "%3d", number)) | \(lines[number - 1])\n"
        }
        return out
    }
}
