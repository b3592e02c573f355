#include <archive.h>
#include <archive_entry.h>
// Extended attributes travel with layer entries (security.capability, user.*).
#include <sys/xattr.h>

// glibc declares sync_file_range only under _GNU_SOURCE: its prototype, and a wrapper that
// starts write-back of a range without waiting (SYNC_FILE_RANGE_WRITE is 2 on Linux).
extern int sync_file_range(int fd, long long offset, long long nbytes, unsigned int flags);
static inline int berth_start_writeback(int fd, long long offset, long long length) {
    return sync_file_range(fd, offset, length, 2);
}

// archive_set_error is variadic (Swift cannot call it): records a failed write's errno, so the
// call that failed reports "No space left on device" rather than libarchive's generic text.
#include <string.h>
static inline void berth_archive_set_errno(struct archive *archive, int code) {
    archive_set_error(archive, code, "%s", strerror(code));
}

// A read that only takes what is already in the page cache (preadv2 with RWF_NOWAIT): -1 with
// EAGAIN when the data would have to come from disk. The layer writer uses it to notice that a
// snapshot's files were evicted and start reading ahead (glibc declares preadv2 only under
// _GNU_SOURCE, hence the system call).
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
static inline long berth_pread_cached(int fd, void *buffer, unsigned long length, long long offset) {
    struct iovec vector = {buffer, length};
    return syscall(SYS_preadv2, fd, &vector, 1, (long)offset, (long)((unsigned long long)offset >> 32), 0x8);
}
