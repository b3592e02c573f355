import DockerfileSyntax
import Foundation
import ImageStore

/// One ONBUILD trigger of a stage's base, parsed.
struct Trigger {
    /// The trigger's text as the base image's config holds it.
    var text: String
    var command: Command

    var touchesFileSystem: Bool {
        switch command {
        case .run, .copy, .workdir: true
        default: false
        }
    }
}

extension StageBuilder {
    /// Parses the base's ONBUILD triggers as instructions. As in BuildKit, a trigger may not be
    /// FROM, MAINTAINER or another ONBUILD; a trigger that does not parse fails the build,
    /// naming it.
    func parseTriggers(_ texts: [String]) throws(BuildError) -> [Trigger] {
        var triggers: [Trigger] = []
        for text in texts {
            let keyword = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map { $0.lowercased() } ?? ""
            if ["from", "maintainer", "onbuild"].contains(keyword) {
                throw triggerError(text, "\(keyword.uppercased()) isn't allowed as an ONBUILD trigger")
            }
            let parsed: Dockerfile
            do {
                let directive = escapeToken == "\\" ? "" : "# escape=\(escapeToken)\n"
                parsed = try Dockerfile.parse(directive + "FROM scratch\n" + text + "\n", fileName: "ONBUILD")
            } catch {
                throw triggerError(text, "\(error)")
            }
            guard parsed.stages.count == 1, parsed.stages[0].commands.count == 1,
                let command = parsed.stages[0].commands.first
            else {
                throw triggerError(text, "a trigger must be exactly one instruction")
            }
            triggers.append(Trigger(text: text, command: command))
        }
        return triggers
    }

    /// Runs the triggers right after FROM, each as the instruction it is.
    func runTriggers(_ triggers: [Trigger], state: inout State, position: inout Int) async throws(BuildError) {
        for trigger in triggers {
            do {
                try await dispatch(trigger.command, state: &state, position: &position)
            } catch let error as BuildError {
                throw triggerError(trigger.text, error.message)
            } catch {
                throw triggerError(trigger.text, "\(error)")
            }
        }
    }

    private func triggerError(_ text: String, _ message: String) -> BuildError {
        var error = BuildError(
            "ONBUILD trigger \"\(text)\" of base image \(baseName) failed: \(message)", fileName: fileName,
            location: stage.location)
        error.excerpt = SourceExcerpt.make(
            session.options.dockerfileContents ?? (try? FileSystem.read(session.options.dockerfilePath)) ?? [],
            range: stage.location)
        return error
    }
}
