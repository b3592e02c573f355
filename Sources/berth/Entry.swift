import ArgumentParser
import Foundation

// berth's entry point. Errors print as `berth: error: …` and exit 1; usage errors exit 2, as the
// docker CLI contract says (../shared/reference/cli-contract.md); `run` exits with the container's status.
/// docker-style global options come before the command (`berth --root DIR build …`); the parser
/// reads them as options of each command, so move them after the command name.
func reorderGlobalOptions(_ arguments: [String]) -> [String] {
    var globals: [String] = []
    var index = 0
    while index < arguments.count {
        let argument = arguments[index]
        if argument == "--root", index + 1 < arguments.count {
            globals += [argument, arguments[index + 1]]
            index += 2
        } else if argument.hasPrefix("--root=") || argument == "--debug" {
            globals.append(argument)
            index += 1
        } else {
            break
        }
    }
    guard !globals.isEmpty, index < arguments.count else { return arguments }
    // Command groups (`system prune`, `image prune`): the options go after the subcommand.
    var commandWords = 1
    if ["system", "image", "container", "builder"].contains(arguments[index]), index + 1 < arguments.count,
        !arguments[index + 1].hasPrefix("-")
    {
        commandWords = 2
    }
    let command = arguments[index..<(index + commandWords)]
    return Array(command) + globals + arguments[(index + commandWords)...]
}

/// The process entry point.
@main
enum BerthMain {
    static func main() async {
        do {
            let arguments = reorderGlobalOptions(Array(CommandLine.arguments.dropFirst()))
            if var command = FastDispatch.command(arguments) {
                try await command.run()
                return
            }
            var command = try Berth.parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch let error as CleanExit {
            print(Berth.fullMessage(for: error))
            Foundation.exit(0)
        } catch {
            let code = Berth.exitCode(for: error)
            if code == .success {
                print(Berth.fullMessage(for: error))
                Foundation.exit(0)
            }
            if code == .validationFailure || "\(type(of: error))".contains("CommandError") || error is ValidationError {
                FileHandle.standardError.write(Data((Berth.fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            FileHandle.standardError.write(Data("berth: error: \(error)\n".utf8))
            Foundation.exit(1)
        }
    }
}
