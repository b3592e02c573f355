// berth's HTTP transport: libcurl, loaded with dlopen the first time a registry or URL is
// contacted. Linking libcurl (or FoundationNetworking, which links it) would make the dynamic
// loader map and relocate libcurl and its ~30 dependencies at every start of berth, which costs
// more than a whole `berth run` of a container otherwise does.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One request. A body comes from memory (`body`) or from a file (`body_fd`, read from its
/// current offset for `body_length` bytes); neither for a request without one.
struct berth_http_request {
    const char *method;
    const char *url;
    const char *const *headers;   ///< "Name: value" lines
    int header_count;
    const void *body;
    int body_fd;                  ///< -1: none
    int64_t body_length;          ///< bytes of `body` or from `body_fd`
    int follow_redirects;
    int verify_tls;
    long connect_timeout_seconds;
    /// Abort when fewer than 1 byte per second moved for this long (stalled transfers).
    long stall_timeout_seconds;
};

/// Receives response bytes (body chunks, or one header line at a time); returns 0 to go on,
/// non-zero to abort the transfer.
typedef int (*berth_http_sink)(void *context, const char *data, size_t length);

/// Performs `request`. Returns 0 and the final HTTP status in `status`, or -1 with a message in
/// `error` (libcurl missing, connection refused, TLS failure, aborted by a sink).
int berth_http_perform(const struct berth_http_request *request, berth_http_sink body, berth_http_sink header,
                       void *context, long *status, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif
