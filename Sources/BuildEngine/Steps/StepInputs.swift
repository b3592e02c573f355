import Foundation
import OCIImage

/// What went into one build step's cache key, kept so the next build of the same Dockerfile
/// and target can say why a step missed the cache (`--explain`). The parts are those of
/// docs/cache.md, split by meaning so they can be compared one by one.
struct StepInputs: Codable, Sendable, Equatable {
    /// Stage index and the instruction's index in the stage (0 for FROM, n for the n-th
    /// instruction): how a step is matched with the previous build's.
    var stage: Int
    var slot: Int
    /// `base`, `RUN`, `COPY`, `ADD`, `WORKDIR`, or a metadata keyword (`ENV`, `ARG`, …).
    var kind: String
    /// The instruction as written (on one line).
    var instruction: String
    var parent: String?
    var key: String = ""
    /// Named single-valued parts (`user`, `cwd`, `network`, `destination`, `argv`, `base image`, …).
    var fields: [String: String] = [:]
    /// Build arguments the step sees (ARG values, with --build-arg applied).
    var buildArgs: [String: String] = [:]
    /// Environment variables from ENV (the image's Env) the step sees.
    var env: [String: String] = [:]
    /// COPY/ADD: every selected entry (`src/main.c`) with its type, mode, size and content digest.
    var files: [String: String]?

    /// Most entries a COPY/ADD record lists by name; beyond, only the content hash is kept (as
    /// the `content` field, so a change reads `content: <old hash> → <new hash>`).
    static let fileLimit = 20000

    /// Proxy variables may carry credentials: only whether they changed is ever shown.
    static let hiddenValues: Set<String> = PredefinedArgs.proxyNames

    /// Parts that follow from the instruction text: not repeated when the text itself changed.
    static let impliedByInstruction: Set<String> = ["argv", "sources", "destination", "path", "values", "base stage"]

    /// Why this step's key differs from `previous`'s own inputs (not its parent's), in words.
    func changes(since previous: StepInputs) -> [String] {
        var reasons: [String] = []
        if instruction != previous.instruction {
            reasons.append("instruction changed: \(Self.quote(previous.instruction)) → \(Self.quote(instruction))")
        }
        if kind == "base", let now = fields["base image"], let before = previous.fields["base image"], now != before {
            reasons.append("base image \(fields["base"] ?? "") changed: \(before) → \(now)")
        }
        for name in Set(fields.keys).union(previous.fields.keys).sorted() where name != "base image" {
            let now = fields[name]
            let before = previous.fields[name]
            guard now != before, !(name == "base" && kind == "base" && instruction != previous.instruction) else {
                continue
            }
            if instruction != previous.instruction && Self.impliedByInstruction.contains(name) { continue }
            reasons.append("\(name): \(Self.show(before)) → \(Self.show(now))")
        }
        reasons += Self.differences(buildArgs, previous.buildArgs, label: "build arg")
        reasons += Self.differences(env, previous.env, label: "env")
        if let files, let old = previous.files {
            reasons += Self.fileChanges(old, files)
        }
        return reasons
    }

    private static func differences(_ now: [String: String], _ before: [String: String], label: String) -> [String] {
        var reasons: [String] = []
        for name in Set(now.keys).union(before.keys).sorted() where now[name] != before[name] {
            if hiddenValues.contains(name) {
                reasons.append("\(label) \(name) changed (value not shown)")
            } else {
                reasons.append("\(label) \(name): \(show(before[name])) → \(show(now[name]))")
            }
        }
        return reasons
    }

    /// `changed: app/main.c`, `added: …`, `removed: …`, at most `limit` names of each.
    static func fileChanges(_ old: [String: String], _ new: [String: String], limit: Int = 20) -> [String] {
        var added: [String] = []
        var removed: [String] = []
        var changed: [String] = []
        for (path, summary) in new {
            if let before = old[path] {
                if before != summary { changed.append(path) }
            } else {
                added.append(path)
            }
        }
        for path in old.keys where new[path] == nil { removed.append(path) }
        var reasons: [String] = []
        for (word, paths) in [("changed", changed), ("added", added), ("removed", removed)] {
            let sorted = paths.sorted()
            reasons += sorted.prefix(limit).map { "\(word): \($0)" }
            if sorted.count > limit { reasons.append("\(word): … and \(sorted.count - limit) more") }
        }
        return reasons
    }

    private static func show(_ value: String?) -> String {
        guard let value else { return "(unset)" }
        return value.isEmpty ? "\"\"" : value
    }

    private static func quote(_ text: String) -> String {
        text.count > 80 ? String(text.prefix(77)) + "..." : text
    }
}

/// The step inputs of one whole build, stored per Dockerfile and target.
struct BuildRecord: Codable, Sendable {
    static let version = 1
    var version = BuildRecord.version
    var steps: [StepInputs]

    /// The previous build's step for `stage`/`slot`, if it had one.
    func step(stage: Int, slot: Int) -> StepInputs? {
        steps.first { $0.stage == stage && $0.slot == slot }
    }
}
