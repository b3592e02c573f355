extension ProcessSpec {
    /// Refuses what exec cannot pass on: a command, working directory or environment holding a
    /// NUL byte would be cut short at it silently (runc refuses such a process as well).
    func validate() throws(RuntimeError) {
        guard !args.isEmpty else { throw .invalidSpec("no command to run") }
        guard cwd.startsWithSlash else { throw .invalidSpec("working directory '\(cwd)' must be absolute") }
        if let index = args.firstIndex(where: { $0.utf8.contains(0) }) {
            throw .invalidSpec("argument \(index + 1) of the command contains a NUL byte")
        }
        if cwd.utf8.contains(0) { throw .invalidSpec("the working directory contains a NUL byte") }
        if let variable = env.first(where: { $0.utf8.contains(0) }) {
            let name = variable.prefix { $0 != "=" && $0 != "\0" }
            throw .invalidSpec("environment variable '\(name)' contains a NUL byte")
        }
    }
}
