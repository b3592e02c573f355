// libarchive through dlopen, on first use.
//
// Linked normally, libarchive made the dynamic loader map and relocate it and its nine
// dependencies (nettle, acl, lzma, zstd, lz4, bz2, zlib, libxml2 and through it ICU, a C++
// library with thousands of symbol relocations) at every start of berth, also for commands
// that never touch an archive (`run`, `ps`, `images`). The Swift code still calls the real
// declarations from <archive.h> (module CArchive, which no longer links the library); the
// definitions below are what those calls bind to: each looks its libarchive function up once
// and calls it. A libarchive that cannot be loaded is an installation error: berth says so and
// exits 1.

#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "berth_archive_loader.h"

static void *library;
static pthread_once_t library_once = PTHREAD_ONCE_INIT;

static void load_library(void) {
    library = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
}

static void *berth_archive_symbol(const char *name) {
    pthread_once(&library_once, load_library);
    if (!library) {
        fprintf(stderr, "berth: error: cannot load libarchive.so.13 (install libarchive13): %s\n", dlerror());
        exit(1);
    }
    void *symbol = dlsym(library, name);
    if (!symbol) {
        fprintf(stderr, "berth: error: libarchive.so.13 lacks %s\n", name);
        exit(1);
    }
    return symbol;
}

int berth_archive_available(void) {
    pthread_once(&library_once, load_library);
    return library != NULL;
}

// One definition per function berth uses, with libarchive's exact prototype (the compiler
// checks each against <archive.h>). The pointer is looked up once; racing threads store the
// same value.
#define BERTH_LAZY(ret, name, params, args)                                                           \
    ret name params {                                                                                 \
        static ret(*real) params;                                                                     \
        ret(*function) params = __atomic_load_n(&real, __ATOMIC_ACQUIRE);                             \
        if (!function) {                                                                              \
            function = (ret(*) params)berth_archive_symbol(#name);                                    \
            __atomic_store_n(&real, function, __ATOMIC_RELEASE);                                      \
        }                                                                                             \
        return function args;                                                                         \
    }
#define BERTH_LAZY_VOID(name, params, args)                                                           \
    void name params {                                                                                \
        static void(*real) params;                                                                    \
        void(*function) params = __atomic_load_n(&real, __ATOMIC_ACQUIRE);                           \
        if (!function) {                                                                              \
            function = (void(*) params)berth_archive_symbol(#name);                                   \
            __atomic_store_n(&real, function, __ATOMIC_RELEASE);                                      \
        }                                                                                             \
        function args;                                                                                \
    }

BERTH_LAZY(__LA_MODE_T, archive_entry_filetype, (struct archive_entry *a0), (a0))
BERTH_LAZY_VOID(archive_entry_free, (struct archive_entry *a0), (a0))
BERTH_LAZY(la_int64_t, archive_entry_gid, (struct archive_entry *a0), (a0))
BERTH_LAZY(const char *, archive_entry_hardlink, (struct archive_entry *a0), (a0))
BERTH_LAZY(time_t, archive_entry_mtime, (struct archive_entry *a0), (a0))
BERTH_LAZY(int, archive_entry_mtime_is_set, (struct archive_entry *a0), (a0))
BERTH_LAZY(long, archive_entry_mtime_nsec, (struct archive_entry *a0), (a0))
BERTH_LAZY(struct archive_entry *, archive_entry_new, (void), ())
BERTH_LAZY(const char *, archive_entry_pathname, (struct archive_entry *a0), (a0))
BERTH_LAZY(const char *, archive_entry_pathname_utf8, (struct archive_entry *a0), (a0))
BERTH_LAZY(__LA_MODE_T, archive_entry_perm, (struct archive_entry *a0), (a0))
BERTH_LAZY(dev_t, archive_entry_rdevmajor, (struct archive_entry *a0), (a0))
BERTH_LAZY(dev_t, archive_entry_rdevminor, (struct archive_entry *a0), (a0))
BERTH_LAZY_VOID(archive_entry_set_filetype, (struct archive_entry *a0, unsigned int a1), (a0, a1))
BERTH_LAZY_VOID(archive_entry_set_gid, (struct archive_entry *a0, la_int64_t a1), (a0, a1))
BERTH_LAZY_VOID(archive_entry_set_hardlink, (struct archive_entry *a0, const char *a1), (a0, a1))
BERTH_LAZY_VOID(archive_entry_set_mtime, (struct archive_entry *a0, time_t a1, long a2), (a0, a1, a2))
BERTH_LAZY_VOID(archive_entry_set_pathname, (struct archive_entry *a0, const char *a1), (a0, a1))
BERTH_LAZY_VOID(archive_entry_set_perm, (struct archive_entry *a0, __LA_MODE_T a1), (a0, a1))
BERTH_LAZY_VOID(archive_entry_set_rdevmajor, (struct archive_entry *a0, dev_t a1), (a0, a1))
BERTH_LAZY_VOID(archive_entry_set_rdevminor, (struct archive_entry *a0, dev_t a1), (a0, a1))
BERTH_LAZY_VOID(archive_entry_set_size, (struct archive_entry *a0, la_int64_t a1), (a0, a1))
BERTH_LAZY_VOID(archive_entry_set_symlink, (struct archive_entry *a0, const char *a1), (a0, a1))
BERTH_LAZY_VOID(archive_entry_set_uid, (struct archive_entry *a0, la_int64_t a1), (a0, a1))
BERTH_LAZY(la_int64_t, archive_entry_size, (struct archive_entry *a0), (a0))
BERTH_LAZY_VOID(archive_entry_sparse_add_entry, (struct archive_entry *a0, la_int64_t a1, la_int64_t a2), (a0, a1, a2))
BERTH_LAZY(const char *, archive_entry_symlink, (struct archive_entry *a0), (a0))
BERTH_LAZY(const char *, archive_entry_symlink_utf8, (struct archive_entry *a0), (a0))
BERTH_LAZY(la_int64_t, archive_entry_uid, (struct archive_entry *a0), (a0))
BERTH_LAZY_VOID(archive_entry_xattr_add_entry, (struct archive_entry *a0, const char *a1, const void *a2, size_t a3), (a0, a1, a2, a3))
BERTH_LAZY(int, archive_entry_xattr_next, (struct archive_entry *a0, const char **a1, const void **a2, size_t *a3), (a0, a1, a2, a3))
BERTH_LAZY(int, archive_entry_xattr_reset, (struct archive_entry *a0), (a0))
BERTH_LAZY(int, archive_errno, (struct archive *a0), (a0))
BERTH_LAZY(const char *, archive_error_string, (struct archive *a0), (a0))
BERTH_LAZY(int, archive_format, (struct archive *a0), (a0))
BERTH_LAZY(int, archive_read_append_filter, (struct archive *a0, int a1), (a0, a1))
BERTH_LAZY(la_ssize_t, archive_read_data, (struct archive *a0, void *a1, size_t a2), (a0, a1, a2))
BERTH_LAZY(int, archive_read_data_block, (struct archive *a0, const void **a1, size_t *a2, la_int64_t *a3), (a0, a1, a2, a3))
BERTH_LAZY(int, archive_read_free, (struct archive *a0), (a0))
BERTH_LAZY(struct archive *, archive_read_new, (void), ())
BERTH_LAZY(int, archive_read_next_header, (struct archive *a0, struct archive_entry **a1), (a0, a1))
BERTH_LAZY(int, archive_read_open, (struct archive *a0, void *a1, archive_open_callback *a2, archive_read_callback *a3, archive_close_callback *a4), (a0, a1, a2, a3, a4))
BERTH_LAZY(int, archive_read_open_filename, (struct archive *a0, const char *a1, size_t a2), (a0, a1, a2))
BERTH_LAZY(int, archive_read_support_format_raw, (struct archive *a0), (a0))
BERTH_LAZY(int, archive_read_support_format_tar, (struct archive *a0), (a0))
BERTH_LAZY(int, archive_write_add_filter_gzip, (struct archive *a0), (a0))
BERTH_LAZY(int, archive_write_add_filter_zstd, (struct archive *a0), (a0))
BERTH_LAZY(int, archive_write_close, (struct archive *a0), (a0))
BERTH_LAZY(la_ssize_t, archive_write_data, (struct archive *a0, const void *a1, size_t a2), (a0, a1, a2))
BERTH_LAZY(int, archive_write_free, (struct archive *a0), (a0))
BERTH_LAZY(int, archive_write_header, (struct archive *a0, struct archive_entry *a1), (a0, a1))
BERTH_LAZY(struct archive *, archive_write_new, (void), ())
BERTH_LAZY(int, archive_write_open2, (struct archive *a0, void *a1, archive_open_callback *a2, archive_write_callback *a3, archive_close_callback *a4, archive_free_callback *a5), (a0, a1, a2, a3, a4, a5))
BERTH_LAZY(int, archive_write_open_fd, (struct archive *a0, int a1), (a0, a1))
BERTH_LAZY(int, archive_write_open_filename, (struct archive *a0, const char *a1), (a0, a1))
BERTH_LAZY(int, archive_write_set_bytes_in_last_block, (struct archive *a0, int a1), (a0, a1))
BERTH_LAZY(int, archive_write_set_bytes_per_block, (struct archive *a0, int a1), (a0, a1))
BERTH_LAZY(int, archive_write_set_filter_option, (struct archive *a0, const char *a1, const char *a2, const char *a3), (a0, a1, a2, a3))
BERTH_LAZY(int, archive_write_set_format_pax_restricted, (struct archive *a0), (a0))
BERTH_LAZY(int, archive_write_set_format_raw, (struct archive *a0), (a0))

// archive_set_error is variadic, which the macros cannot forward: the message is formatted here
// and handed on as one "%s" argument.
void archive_set_error(struct archive *a, int code, const char *format, ...) {
    static void (*real)(struct archive *, int, const char *, ...);
    void (*function)(struct archive *, int, const char *, ...) = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
    if (!function) {
        function = (void (*)(struct archive *, int, const char *, ...))berth_archive_symbol("archive_set_error");
        __atomic_store_n(&real, function, __ATOMIC_RELEASE);
    }
    char message[512];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    function(a, code, "%s", message);
}
