import DockerfileSyntax
import Foundation
import OCIImage

extension StageBuilder {
    /// Instructions that only change the image config: no snapshot, but they feed later keys.
    func applyMetadata(_ command: Command, state: inout State) throws {
        var config = state.containerConfig
        var keyParts: [String] = []
        var buildArgs: [String: String] = [:]
        switch command {
        case .arg(let arg):
            for declaration in arg.args {
                let value: String?
                if let given = session.options.buildArgs[declaration.name] {
                    value = given
                } else if let defaultValue = declaration.defaultValue {
                    value = defaultValue
                } else {
                    value = globalArgs[declaration.name]
                }
                state.args.append((declaration.name, value))
                buildArgs[declaration.name] = value ?? "(unset)"
                keyParts.append("\(declaration.name)=\(value ?? "<unset>")")
            }
        case .maintainer(let maintainer):
            state.config.author = maintainer.maintainer
            keyParts = [maintainer.maintainer]
        case .run, .copy, .workdir:
            return
        default:
            guard let parts = try ConfigChange.apply(command, to: &config, cmdSet: &state.cmdSet) else { return }
            keyParts = parts
        }
        state.containerConfig = config
        var inputs = stepInputs(state, kind: command.info.keyword.uppercased(), instruction: command.info.original)
        if case .arg = command {
            inputs.buildArgs = buildArgs
        } else if case .env(let env) = command {
            inputs.env = Dictionary(env.pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        } else {
            inputs.fields["values"] = keyParts.joined(separator: " ")
        }
        state.key = CacheKey.derive(parent: state.key, kind: command.info.keyword, parts: keyParts)
        inputs.key = state.key.value
        session.explainer.metadata(inputs)
        addHistory(&state, historyText(command), empty: true)
    }

    /// History `created_by` text, as BuildKit writes it.
    func historyText(_ command: Command) -> String {
        switch command {
        case .run(let run):
            let args: [String]
            switch run.command {
            case .exec(let list): args = list
            case .shell(let text): args = ["/bin/sh", "-c", text]
            }
            return "RUN " + args.joined(separator: " ") + " # buildkit"
        case .copy(let copy):
            return copy.info.original + " # buildkit"
        case .env(let env):
            return "ENV " + env.pairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        case .label(let label):
            return "LABEL " + label.pairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        default:
            return command.info.original
        }
    }
}
