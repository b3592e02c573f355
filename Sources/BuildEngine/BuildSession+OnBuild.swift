import DockerfileSyntax
import Foundation
import ImageStore

extension BuildSession {
    /// For each stage, the `--from` names of the `COPY --from` triggers among its base's ONBUILD
    /// triggers (an earlier stage's ONBUILD instructions, or a local base image's config), so the
    /// plan builds the stages those triggers copy from first. A base not in the store yet is
    /// pulled later; its triggers can then only name images or stages the plan builds anyway.
    func onBuildCopySources(_ baseNames: [String]) async -> [Int: [String]] {
        var sources: [Int: [String]] = [:]
        for (index, base) in baseNames.enumerated() where base.lowercased() != "scratch" {
            let triggers: [String]
            if let earlier = dockerfile.stages[..<index].lastIndex(where: { $0.name == base.lowercased() }) {
                triggers = dockerfile.stages[earlier].commands.compactMap {
                    if case .onbuild(let onbuild) = $0 { onbuild.expression } else { nil }
                }
            } else if !options.pull, let image = try? await store.image(named: base) {
                triggers = image.config.config?.onBuild ?? []
            } else {
                continue
            }
            for trigger in triggers {
                guard let parsed = try? Dockerfile.parse("FROM scratch\n" + trigger + "\n", fileName: "ONBUILD"),
                    let command = parsed.stages.first?.commands.first,
                    case .copy(let copy) = command, let from = copy.from
                else { continue }
                sources[index, default: []].append(from)
            }
        }
        return sources
    }
}
