#if canImport(Glibc)
    import Glibc
#endif

extension FileCopier {
    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR; false (errno set) on an
    /// error.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }
}
