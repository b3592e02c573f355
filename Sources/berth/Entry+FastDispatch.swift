import ArgumentParser

/// `berth run …` and `berth build …` without building the whole command tree.
///
/// `Berth.parseAsRoot` reflects over every subcommand's arguments (Mirror, type lookups by
/// mangled name, protocol conformance scans over the whole binary) before it parses anything;
/// for a `run --rm IMAGE true` (or a no-op rebuild) that is a sizeable part of berth's start.
/// When the command word is `run` or `build`, parsing only that command gives the same values.
/// Anything the full parser treats specially (help, completion scripts, `--version`) or any
/// error goes the usual way, so help, usage and error messages stay exactly the full parser's.
enum FastDispatch {
    /// Words the full parser acts on wherever they appear, even after the image.
    static let builtInPrefixes = ["--generate-completion-script", "--experimental-dump-help", "---completion"]
    static let builtInWords = ["-h", "--help", "help", "--version"]

    /// The parsed `run` or `build` command, or nil when the full parser must handle `arguments`.
    static func command(_ arguments: [String]) -> (any AsyncParsableCommand)? {
        guard let word = arguments.first, word == "run" || word == "build" else { return nil }
        let rest = arguments.dropFirst()
        for argument in rest {
            if builtInWords.contains(argument) { return nil }
            if builtInPrefixes.contains(where: { argument.hasPrefix($0) }) { return nil }
        }
        return word == "run" ? try? RunCommand.parse(Array(rest)) : try? BuildCommand.parse(Array(rest))
    }
}
