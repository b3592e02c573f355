import Foundation

/// A seccomp profile in Docker's JSON format (`defaultAction`, `archMap`, `syscalls` with
/// `includes`/`excludes`).
public struct SeccompProfile: Codable, Sendable, Equatable {
    public var defaultAction: String
    public var defaultErrnoRet: UInt32?
    public var archMap: [ArchMap]?
    public var architectures: [String]?
    public var syscalls: [Rule]

    public struct ArchMap: Codable, Sendable, Equatable {
        public var architecture: String
        public var subArchitectures: [String]?
    }

    public struct Rule: Codable, Sendable, Equatable {
        public var names: [String]?
        public var name: String?
        public var action: String
        public var errnoRet: UInt32?
        public var args: [Argument]?
        public var includes: Filter?
        public var excludes: Filter?
    }

    public struct Argument: Codable, Sendable, Equatable {
        public var index: UInt32
        public var value: UInt64
        public var valueTwo: UInt64?
        public var op: String
    }

    public struct Filter: Codable, Sendable, Equatable {
        public var arches: [String]?
        public var caps: [String]?
        public var minKernel: String?
    }

    /// Docker's default profile, embedded in berth.
    public static let docker: SeccompProfile = {
        // The embedded text is checked by a test against ../shared's copy; decoding it cannot fail.
        (try? JSONDecoder().decode(SeccompProfile.self, from: Data(dockerDefaultJSON.utf8)))
            ?? SeccompProfile(
                defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1, archMap: nil, architectures: nil, syscalls: [])
    }()

    /// Parses a profile file.
    public static func load(path: String) throws(RuntimeError) -> SeccompProfile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalidSpec("cannot read seccomp profile \(path)")
        }
        do {
            return try JSONDecoder().decode(SeccompProfile.self, from: data)
        } catch {
            throw .invalidSpec("seccomp profile \(path) is not valid: \(error)")
        }
    }

    /// The rules that apply here, filtered by `includes`/`excludes` exactly as Docker does
    /// before it hands a profile to a runtime: the native architecture (Go's name, e.g.
    /// `amd64`), the container's bounding capabilities and the running kernel version.
    public func resolved(arch: String, capabilities: Set<String>, kernel: (Int, Int)) -> [Rule] {
        func kernelAtLeast(_ version: String) -> Bool {
            let parts = version.split(separator: ".").compactMap { Int($0) }
            let wanted = (parts.first ?? 0, parts.count > 1 ? parts[1] : 0)
            return kernel.0 > wanted.0 || (kernel.0 == wanted.0 && kernel.1 >= wanted.1)
        }
        return syscalls.filter { rule in
            if let excludes = rule.excludes {
                if let arches = excludes.arches, arches.contains(arch) { return false }
                if let caps = excludes.caps, caps.contains(where: capabilities.contains) { return false }
                if let minimum = excludes.minKernel, kernelAtLeast(minimum) { return false }
            }
            if let includes = rule.includes {
                if let arches = includes.arches, !arches.contains(arch) { return false }
                if let caps = includes.caps, !caps.allSatisfy(capabilities.contains) { return false }
                if let minimum = includes.minKernel, !kernelAtLeast(minimum) { return false }
            }
            return true
        }
    }
}

/// Which seccomp filter a container gets.
public enum SeccompMode: Codable, Sendable, Equatable {
    /// Docker's default profile, resolved for this machine and the container's capabilities.
    case dockerDefault
    /// No filter (`--security-opt seccomp=unconfined`).
    case unconfined
    /// A profile file in Docker's format.
    case profile(path: String)
}
