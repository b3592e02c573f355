import BuildEngine
import ContainerRuntime
import Foundation
import ImageStore

/// docker-shaped JSON for `inspect` of a container.
enum ContainerInspection {
    static func json(_ record: ContainerRecord) throws -> [String: Any] {
        let configuration = try ContainerConfiguration.decode(record.configJSON)
        let spec = configuration.spec
        let args = spec.process.args
        return [
            "Id": record.id,
            "Name": "/" + record.name,
            "Created": record.created,
            "Path": args.first ?? "",
            "Args": Array(args.dropFirst()),
            "Image": record.imageID.description,
            "State": [
                "Status": record.state.rawValue, "Running": record.state == .running, "Pid": Int(record.pid ?? 0),
                "ExitCode": Int(record.exitCode ?? 0), "StartedAt": record.startedAt ?? "",
                "FinishedAt": record.finishedAt ?? "",
            ] as [String: Any],
            "Config": [
                "Hostname": spec.hostname, "User": spec.process.user, "Env": spec.process.env,
                "Cmd": configuration.command, "Entrypoint": configuration.entrypoint, "Image": record.imageName,
                "WorkingDir": spec.process.cwd, "Labels": configuration.labels, "Tty": spec.process.terminal,
                "OpenStdin": configuration.interactive, "StopSignal": configuration.stopSignal,
                "StopTimeout": configuration.stopTimeout,
            ] as [String: Any],
            "HostConfig": [
                "NetworkMode": spec.network.rawValue, "AutoRemove": configuration.autoRemove,
                "ReadonlyRootfs": spec.readonlyRoot, "Privileged": spec.capabilities.privileged,
                "CapAdd": spec.capabilities.add, "CapDrop": spec.capabilities.drop,
                "Memory": Int(spec.resources.memoryBytes ?? 0),
                "CpuQuota": Int(spec.resources.cpuQuota ?? 0), "CpuPeriod": Int(spec.resources.cpuPeriod ?? 0),
                "PidsLimit": Int(spec.resources.pidsLimit ?? 0),
                "Ulimits": spec.process.rlimits.map { ["Name": $0.name, "Soft": $0.soft, "Hard": $0.hard] },
                "Binds": spec.mounts.filter { $0.kind == .bind }.map {
                    "\($0.source):\($0.target)" + ($0.readOnly ? ":ro" : "")
                },
                "Tmpfs": Dictionary(
                    spec.mounts.filter { $0.kind == .tmpfs }.map { ($0.target, $0.options) },
                    uniquingKeysWith: { first, _ in first }),
            ] as [String: Any],
            "Mounts": spec.mounts.map {
                [
                    "Type": $0.kind.rawValue, "Source": $0.source, "Destination": $0.target, "RW": !$0.readOnly,
                ] as [String: Any]
            },
        ]
    }
}
