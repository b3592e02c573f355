import ArgumentParser
import Foundation

// berth's entry point. Errors print as `berth: error: …` and exit 1; usage errors exit 2, as the
// docker CLI contract in docs/cli.md says; `run` exits with the container's status.
do {
    var command = try Berth.parseAsRoot()
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
