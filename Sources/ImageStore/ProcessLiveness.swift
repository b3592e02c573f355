import Foundation

/// Whether a recorded process still runs: the pid exists and started when it was recorded, so
/// a pid reused by an unrelated process is not mistaken for a container.
public enum ProcessLiveness {
    /// Field 22 of /proc/PID/stat (start time in clock ticks since boot), nil when gone.
    public static func startTime(of pid: Int32) -> Int64? {
        guard let bytes = try? FileSystem.read("/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
        // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field 22 is fields[19].
        guard fields.count > 19, let value = Int64(fields[19]) else { return nil }
        if fields[0] == "Z" { return nil }  // a zombie has finished
        return value
    }

    /// True when `pid` runs and (if given) started at `startTime`.
    public static func isAlive(_ pid: Int32?, startTime: Int64?) -> Bool {
        guard let pid, pid > 0, let actual = Self.startTime(of: pid) else { return false }
        return startTime == nil || startTime == actual
    }
}
