import ArgumentParser

/// `berth run …` without building the whole command tree.
///
/// `Berth.parseAsRoot` reflects over every subcommand's arguments (Mirror, type lookups by
/// mangled name, protocol conformance scans over the whole binary) before it parses anything;
/// for a `run --rm IMAGE true` that is a sizeable part of berth's start. When the command
/// word is `run`, parsing only `RunCommand` gives the same values. Anything the full parser
/// treats specially (help, completion scripts, `--version`) or any error goes the usual way,
/// so help, usage and error messages stay exactly the full parser's.
enum FastDispatch {
    /// Words the full parser acts on wherever they appear, even after the image.
    static let builtInPrefixes = ["--generate-completion-script", "--experimental-dump-help", "---completion"]
    static let builtInWords = ["-h", "--help", "help", "--version"]

    /// The parsed `run` command, or nil when the full parser must handle `arguments`.
    static func run(_ arguments: [String]) -> RunCommand? {
        guard arguments.first == "run" else { return nil }
        let rest = arguments.dropFirst()
        for argument in rest {
            if builtInWords.contains(argument) { return nil }
            if builtInPrefixes.contains(where: { argument.hasPrefix($0) }) { return nil }
        }
        return try? RunCommand.parse(Array(rest))
    }
}
