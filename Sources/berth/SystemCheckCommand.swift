import ArgumentParser
import Foundation
import ImageStore

/// `berth system check [--repair]`: verifies the store; exits 1 listing what is wrong.
struct SystemCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify every blob digest and reference; find orphaned snapshots, stray mounts and leftovers.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Remove what nothing references (orphans, leftovers); never what is in use.")
    var repair = false

    func run() async throws {
        let stores = try Stores(global)
        let report = try await stores.store.check(repair: repair, onWait: Confirmation.waitingNotice)
        for problem in report.problems {
            let state =
                report.repaired.contains(problem) ? "repaired: " : (problem.isRepairable ? "" : "not repairable: ")
            print("\(state)\(problem)")
        }
        let remaining = report.remaining
        if remaining.isEmpty {
            print(report.problems.isEmpty ? "store \(global.storeRoot) is consistent" : "all problems repaired")
            return
        }
        let repairable = remaining.filter(\.isRepairable).count
        FileHandle.standardError.write(
            Data(
                ("berth: error: \(remaining.count) problem\(remaining.count == 1 ? "" : "s") in \(global.storeRoot)"
                    + (repairable > 0 && !repair ? " (\(repairable) repairable with --repair)" : "") + "\n").utf8))
        throw ExitCode(1)
    }
}
