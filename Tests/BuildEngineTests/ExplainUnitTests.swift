import Testing

@testable import BuildEngine

@Suite struct BuildOutputParseTests {
    @Test func buildxSpellings() throws {
        #expect(try BuildOutput.parse("type=oci,dest=a.tar") == BuildOutput(kind: .oci, destination: "a.tar"))
        #expect(try BuildOutput.parse("type=docker,dest=-") == BuildOutput(kind: .docker, destination: "-"))
        #expect(try BuildOutput.parse("out/dir") == BuildOutput(kind: .local, destination: "out/dir"))
        #expect(try BuildOutput.parse("-") == BuildOutput(kind: .tar, destination: "-"))
        #expect(throws: BuildError.self) { try BuildOutput.parse("type=registry,dest=x") }
        #expect(throws: BuildError.self) { try BuildOutput.parse("type=tar") }
        #expect(throws: BuildError.self) { try BuildOutput.parse("type=tar,dest=a,dest=b") }
        #expect(throws: BuildError.self) { try BuildOutput.parse("type=tar,dest=a,oops") }
    }
}

@Suite struct StepInputsTests {
    func run(_ instruction: String, args: [String: String] = [:], env: [String: String] = [:]) -> StepInputs {
        var inputs = StepInputs(stage: 0, slot: 1, kind: "RUN", instruction: instruction, parent: "p")
        inputs.fields = ["argv": "/bin/sh -c " + instruction.dropFirst(4), "user": "", "cwd": "/"]
        inputs.buildArgs = args
        inputs.env = env
        return inputs
    }

    @Test func namesWhatChanged() {
        let before = run("RUN make", args: ["VERSION": "1", "HTTP_PROXY": "http://u:secret@p"], env: ["A": "x"])
        let after = run("RUN make", args: ["VERSION": "2", "HTTP_PROXY": "http://u:other@p"], env: ["B": "y"])
        #expect(
            after.changes(since: before) == [
                "build arg HTTP_PROXY changed (value not shown)", "build arg VERSION: 1 → 2", "env A: x → (unset)",
                "env B: (unset) → y",
            ])
        // A rewritten instruction is said once, not again as its argv.
        #expect(run("RUN make all").changes(since: run("RUN make")) == ["instruction changed: RUN make → RUN make all"])
        #expect(run("RUN make").changes(since: run("RUN make")).isEmpty)
    }

    @Test func fileChangesAreBoundedAndSorted() {
        let old = ["a": "f 644 1 x", "b": "f 644 1 y", "gone": "f 644 1 z"]
        var new = ["a": "f 644 1 x", "b": "f 755 1 y"]
        for n in 0..<25 { new["n\(n)"] = "f 644 1 q" }
        let reasons = StepInputs.fileChanges(old, new)
        #expect(reasons.first == "changed: b")
        #expect(reasons.filter { $0.hasPrefix("added: ") }.count == 21)
        #expect(reasons.contains("added: … and 5 more"))
        #expect(reasons.last == "removed: gone")
    }
}

@Suite struct ExplainAlignmentTests {
    @Test func instructionsAlignOnTheirText() {
        // An insertion: the rest keep their counterparts.
        #expect(BuildExplainer.align(["A", "X", "B", "C"], ["A", "B", "C"]) == [0: 0, 2: 1, 3: 2])
        // A deletion.
        #expect(BuildExplainer.align(["A", "C"], ["A", "B", "C"]) == [0: 0, 1: 2])
        // An edit pairs the leftovers between two aligned instructions, in order.
        #expect(BuildExplainer.align(["A", "B2", "C"], ["A", "B", "C"]) == [0: 0, 1: 1, 2: 2])
        #expect(BuildExplainer.align(["A", "B2", "X", "C"], ["A", "B", "C"]) == [0: 0, 1: 1, 3: 2])
        // Moved: one of the two keeps its counterpart, the other is new.
        #expect(BuildExplainer.align(["B", "A"], ["A", "B"]) == [0: 1])
        #expect(BuildExplainer.align([], ["A"]).isEmpty)
        #expect(BuildExplainer.align(["A"], []).isEmpty)
    }
}
