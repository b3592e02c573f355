import Foundation

extension Dockerfile {
    /// Parses a Dockerfile into stages of typed instructions; errors carry FILE:LINE:COL.
    public static func parse(_ bytes: [UInt8], fileName: String) throws(DockerfileError) -> Dockerfile {
        let result = try Parser.parse(bytes, fileName: fileName)
        let lines = Parser.splitLines(bytes).map { Parser.text(Parser.trimNewline($0)) }
        let builder = InstructionBuilder(fileName: fileName, lines: lines, escapeToken: result.directives.escapeToken)
        var dockerfile = Dockerfile(fileName: fileName, directives: result.directives, warnings: result.warnings)
        for node in result.root.children {
            let keyword = node.value.lowercased()
            if keyword == "from" {
                dockerfile.stages.append(try builder.stage(node))
                continue
            }
            let command = try builder.command(node)
            if dockerfile.stages.isEmpty {
                guard case .arg(let arg) = command else {
                    throw builder.error(
                        node,
                        "no build stage in current context: \(node.value.uppercased()) must come after a FROM (only ARG may come before the first FROM)"
                    )
                }
                dockerfile.globalArgs.append(arg)
            } else {
                dockerfile.stages[dockerfile.stages.count - 1].commands.append(command)
            }
        }
        guard !dockerfile.stages.isEmpty else {
            throw DockerfileError(
                fileName: fileName, line: max(result.root.endLine, 1), message: "the Dockerfile has no FROM instruction"
            )
        }
        return dockerfile
    }

    /// Parses Dockerfile text.
    public static func parse(_ text: String, fileName: String) throws(DockerfileError) -> Dockerfile {
        try parse(Array(text.utf8), fileName: fileName)
    }
}
