// libFuzzer entry point for the Dockerfile parser and the shell-word expander.
//
// Built by Fuzz/run-parser-fuzzer.sh together with the DockerfileSyntax sources
// (swiftc -sanitize=fuzzer,address); not part of `make test`.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let dockerfile = try? Dockerfile.parse(bytes, fileName: "fuzz") {
        // Expand every instruction the way a build would, with a small environment.
        for stage in dockerfile.stages {
            for command in stage.commands {
                _ = try? command.expanded(escapeToken: dockerfile.directives.escapeToken) { name in
                    name.count % 2 == 0 ? "value with spaces" : nil
                }
            }
        }
    }
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? ShellExpander().expandWords(text) { $0 == "A" ? "a b" : nil }
    _ = try? ShellExpander(escapeToken: "`").expand(text) { _ in "" }
    _ = try? IgnoreMatcher(patterns: IgnoreMatcher.patterns(fromIgnoreFile: text)).isExcluded("a/b/c.txt")
    return 0
}
