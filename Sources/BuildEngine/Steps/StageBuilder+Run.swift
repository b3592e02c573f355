import ContainerRuntime
import DockerfileSyntax
import Foundation
import OCIImage

extension StageBuilder {
    /// RUN: the command runs in the runtime core on an overlay of the stage's layers; its upper
    /// directory becomes the step's snapshot.
    func runStep(_ run: RunCommand, state: inout State, position: Int) async throws {
        let config = state.containerConfig
        let args = runArguments(run, shell: config.shell)
        let env = runEnvironment(state)
        let user = config.user ?? ""
        let cwd = config.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        let network = run.network ?? session.options.network
        guard network == "host" || network == "none" || network == "default" else {
            throw BuildError("unsupported network mode '\(network)' for RUN (use host or none)")
        }
        let specs = try runMountSpecs(run, state: state)
        let title = "RUN " + Self.oneLine(run.info.original.dropFirst(4))
        var inputs = stepInputs(state, kind: "RUN", instruction: run.info.original)
        (inputs.buildArgs, inputs.env) = splitEnvironment(env, state: state)
        inputs.fields = ["argv": args.joined(separator: " "), "user": user, "cwd": cwd, "network": network]
        let session = self.session
        let stepName = "\(label(position)) \(title)"
        let tail = OutputTail()
        try await withRunMountRoots(specs) { roots in
            let mounts = try await prepareRunMounts(specs, roots: roots, state: state)
            // Mounts are keyed by their spec (and a bind's content), never by a secret's value.
            let key = CacheKey.derive(
                parent: state.key, kind: "RUN",
                parts: ["args"] + args + ["env"] + env + ["user", user, "cwd", cwd, "network", network]
                    + (mounts.isEmpty ? [] : ["mounts"] + mounts.flatMap { $0.keyParts + ["\u{0}"] }))
            var inputs = inputs
            if !mounts.isEmpty {
                inputs.fields["mounts"] = mounts.map { $0.keyParts.joined(separator: ",") }.joined(separator: " ")
            }
            let stateCopy = state
            try await fileSystemStep(
                &state, position: position, title: title, key: key, createdBy: historyText(.run(run)), inputs: inputs
            ) { step in
                try await withMountedStep(stateCopy) { active in
                    let setup = RunMountSetup()
                    defer { setup.tearDown() }
                    try await setUpRunMounts(mounts, into: setup)
                    let spec = ContainerSpec(
                        rootPath: active.rootPath,
                        process: ProcessSpec(args: args, env: env + setup.environment, cwd: cwd, user: user),
                        hostname: "buildkitsandbox",
                        network: network == "none" ? .none : .host,
                        mounts: setup.mounts,
                        removeMountPointStubs: true)
                    let status: ExitStatus
                    do {
                        status = try await session.builder.runtime.run(
                            id: "build-\(active.id)", spec: spec,
                            io: .capture { _, bytes in
                                tail.append(bytes)
                                session.progress.report(.output(step: step, bytes: bytes))
                            })
                    } catch {
                        throw BuildError("RUN failed to start: \(error)")
                    }
                    guard status.code == 0 else {
                        if let debugger = session.options.failureDebugger {
                            await debugger.debug(
                                FailedStep(
                                    name: stepName, spec: spec, exitCode: status.code,
                                    containerID: "debug-\(active.id)"),
                                runtime: session.builder.runtime)
                        }
                        var message =
                            "process \"\(args.joined(separator: " "))\" did not complete successfully: exit code: \(status.code)"
                        let lines = tail.lastLines(10)
                        message += "\n------\n > \(stepName):\n"
                        message += lines.map { "   \($0)\n" }.joined()
                        message += "------"
                        throw BuildError(message)
                    }
                }
            }
        }
    }

    /// argv for RUN: exec form as is; shell form through SHELL; a heredoc script run by the
    /// shell (or directly when it starts with `#!`).
    func runArguments(_ run: RunCommand, shell configured: [String]?) -> [String] {
        let shell = configured ?? ["/bin/sh", "-c"]
        switch run.command {
        case .exec(let args):
            return args
        case .shell(let text):
            guard !run.heredocs.isEmpty else { return shell + [text] }
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if run.heredocs.count == 1, trimmed.hasPrefix("<<"),
                !trimmed.contains(" "), let script = run.heredocs.first
            {
                if script.content.hasPrefix("#!") {
                    // Let the kernel pick the interpreter: pass the script through a temporary file.
                    return shell + [
                        "f=$(mktemp) && cat > \"$f\" <<'BERTH_EOF'\n\(script.content)BERTH_EOF\nchmod +x \"$f\" && \"$f\"; s=$?; rm -f \"$f\"; exit $s"
                    ]
                }
                return shell + [script.content]
            }
            var script = text
            for heredoc in run.heredocs {
                script += "\n" + heredoc.content + heredoc.name
            }
            return shell + [script]
        }
    }

    /// RUN's environment: the image's Env plus the stage's ARGs not shadowed by ENV.
    func runEnvironment(_ state: State) -> [String] {
        var env = state.containerConfig.env ?? []
        var seen = Set(env.compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        for arg in state.args.reversed() {
            guard let value = arg.value, !seen.contains(arg.name) else { continue }
            env.append("\(arg.name)=\(value)")
            seen.insert(arg.name)
        }
        for name in PredefinedArgs.proxyNames where !seen.contains(name) {
            if let value = globalArgs[name] { env.append("\(name)=\(value)") }
        }
        return env
    }

    static func oneLine<S: StringProtocol>(_ text: S) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
    }

    /// WORKDIR: sets the working directory and creates it when missing (a snapshot only then).
    func workdirStep(_ workdir: WorkdirCommand, state: inout State, position: Int) async throws {
        var path = workdir.path
        if !path.startsWithSlash {
            path = (state.containerConfig.workingDir ?? "/") + "/" + path
        }
        path = RootedPath.clean(path)
        state.containerConfig.workingDir = path
        // BuildKit creates the missing directories owned by the USER in effect (names resolved in
        // the stage's own /etc/passwd and /etc/group, a bare number as uid:uid).
        let user = state.containerConfig.user ?? ""
        let key = CacheKey.derive(
            parent: state.key, kind: "WORKDIR", parts: [path] + (user.isEmpty ? [] : ["user=" + user]))
        let stateCopy = state
        var inputs = stepInputs(state, kind: "WORKDIR", instruction: workdir.info.original)
        inputs.fields = ["path": path]
        try await fileSystemStep(
            &state, position: position, title: "WORKDIR \(path)", key: key, createdBy: "WORKDIR \(path)",
            inputs: inputs
        ) { _ in
            try await withMountedStep(stateCopy, dropEmpty: true) { active in
                let resolved = try RootedPath.resolve(path, in: active.rootPath)
                let (uid, gid) = user.isEmpty ? (0, 0) : try UserDatabase.resolve(user, in: active.rootPath)
                try makeParents(resolved, under: active.rootPath, uid: uid, gid: gid)
            }
        }
    }
}
