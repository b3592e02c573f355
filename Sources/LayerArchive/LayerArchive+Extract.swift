import CArchive
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension LayerArchive {
    /// Whether the file at `path` is a tar archive (plain, gzip, bzip2, xz or zstd), judged by
    /// its content as BuildKit's ADD does, never by its name: the decompressed stream must start
    /// with a valid tar header.
    public static func isTarArchive(_ path: String) -> Bool {
        guard let source = try? ArchiveSource(path: path) else { return false }
        return withCLocale { () -> Bool in
            guard let archive = try? source.openReader(raw: false, decompressed: true) else { return false }
            defer { archive_read_free(archive) }
            var entry: OpaquePointer?
            let rc = archive_read_next_header(archive, &entry)
            return rc == ARCHIVE_OK || rc == ARCHIVE_WARN || rc == ARCHIVE_EOF && archive_format(archive) != 0
        }
    }

    /// Extracts a local archive into `directory` for ADD, with the safety of layer unpacking:
    /// entries are placed relative to the directory, never through a symlink, and nothing with
    /// `..` or an absolute path can land outside it. Whiteout entries delete what they name, as
    /// docker's untar does. Entries keep the owners their headers give (BuildKit applies
    /// `ADD --chown` only to the directories it creates, not to an archive's entries). A
    /// compressed archive is decompressed to a file in `temporaryDirectory` first.
    public static func extract(
        archiveAt path: String, into directory: String, temporaryDirectory: String
    ) throws(LayerArchiveError) {
        if ArchiveSource.isCompressed(path) {
            let plain = temporaryDirectory + "/.add-\(UUID().uuidString.lowercased()).tar"
            defer { unlink(plain) }
            _ = try decompress(layerAt: path, to: plain)
            _ = try Unpacker(archivePath: plain, label: path, directory: directory, mode: .apply).run()
            return
        }
        _ = try Unpacker(archivePath: path, label: path, directory: directory, mode: .apply).run()
    }
}
