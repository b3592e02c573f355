import ContainerRuntime
import Foundation

/// How a kept container runs: stored as JSON in its record, so `start` runs it the same way.
public struct ContainerConfiguration: Codable, Sendable {
    /// The runtime spec; `rootPath` is filled in at each start.
    public var spec: ContainerSpec
    /// The image's entrypoint part of `spec.process.args` (for `commit`, which keeps the split).
    public var entrypoint: [String]
    /// Keep standard input open (`-i`).
    public var interactive: Bool
    /// Remove the container when it exits (`--rm`).
    public var autoRemove: Bool
    /// Sent by `stop` (default SIGTERM, or the image's STOPSIGNAL).
    public var stopSignal: String
    /// Seconds `stop` waits before SIGKILL.
    public var stopTimeout: Int
    public var labels: [String: String]

    public init(
        spec: ContainerSpec, entrypoint: [String], interactive: Bool = false, autoRemove: Bool = false,
        stopSignal: String = "SIGTERM", stopTimeout: Int = 10, labels: [String: String] = [:]
    ) {
        self.spec = spec
        self.entrypoint = entrypoint
        self.interactive = interactive
        self.autoRemove = autoRemove
        self.stopSignal = stopSignal
        self.stopTimeout = stopTimeout
        self.labels = labels
    }

    /// The command part of the process arguments (after the entrypoint).
    public var command: [String] { Array(spec.process.args.dropFirst(entrypoint.count)) }

    public func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public static func decode(_ json: String) throws -> ContainerConfiguration {
        try JSONDecoder().decode(ContainerConfiguration.self, from: Data(json.utf8))
    }
}

/// Signal names and numbers, as docker accepts them (`SIGTERM`, `TERM`, `15`).
public enum SignalName {
    static let numbers: [String: Int32] = [
        "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8, "KILL": 9, "USR1": 10,
        "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19,
        "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27,
        "WINCH": 28, "IO": 29, "PWR": 30, "SYS": 31,
    ]

    /// The signal number for `name`, or nil when unknown.
    public static func number(_ name: String) -> Int32? {
        if let value = Int32(name), (1...64).contains(value) { return value }
        var upper = name.uppercased()
        if upper.hasPrefix("SIG") { upper = String(upper.dropFirst(3)) }
        return numbers[upper]
    }
}

/// Docker-style generated container names: `adjective_surname`.
enum ContainerName {
    static let adjectives = [
        "admiring", "bold", "brave", "busy", "clever", "eager", "focused", "gallant", "happy", "jolly", "keen",
        "lucid", "modest", "nifty", "quirky", "serene", "sharp", "sleepy", "stoic", "tender", "vibrant", "zealous",
    ]
    static let names = [
        "babbage", "curie", "dijkstra", "euler", "feynman", "gauss", "hopper", "knuth", "lamport", "liskov",
        "lovelace", "noether", "pascal", "ritchie", "shannon", "thompson", "turing", "wozniak",
    ]

    static func random() -> String {
        "\(adjectives.randomElement() ?? "busy")_\(names.randomElement() ?? "turing")"
    }
}
