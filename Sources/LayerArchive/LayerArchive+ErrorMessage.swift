import CArchive

#if canImport(Glibc)
    import Glibc
#endif

/// libarchive's description of the last failure on `archive`. libarchive leaves no message for
/// some failures (a damaged tar header can make the reader fail without one), so this falls back
/// to the error number, and then to a fixed text, instead of reading a NULL string.
func archiveErrorMessage(_ archive: OpaquePointer) -> String {
    if let message = archive_error_string(archive) { return String(cString: message) }
    let code = archive_errno(archive)
    if code > 0 { return String(cString: strerror(code)) }
    return "libarchive failed without a message"
}
