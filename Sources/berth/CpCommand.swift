import ArgumentParser
import BuildEngine
import ContainerRuntime
import Foundation

/// `berth cp CONTAINER:SRC DEST` / `berth cp SRC CONTAINER:DEST`.
struct CpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cp", abstract: "Copy files between a container and the host.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "CONTAINER:PATH or a host path.") var source: String
    @Argument(help: "CONTAINER:PATH or a host path.") var destination: String

    /// `name:path` when the part before the first colon names no host path (docker's rule).
    static func split(_ text: String) -> (String, String)? {
        guard !text.startsWithSlash, text.utf8.first != UInt8(ascii: "."), let colon = text.firstIndex(of: ":") else {
            return nil
        }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    func run() async throws {
        switch (Self.split(source), Self.split(destination)) {
        case (let from?, nil):
            try await forEachContainer([from.0], global) { manager, record in
                try await manager.copyOut(record, path: from.1, to: destination)
            }
        case (nil, let to?):
            try await forEachContainer([to.0], global) { manager, record in
                try await manager.copyIn(record, from: source, to: to.1)
            }
        default:
            throw ValidationError(
                "copying between containers, or between host paths, is not supported: one side must be CONTAINER:PATH")
        }
    }
}
