// libcurl through dlopen: see berth_http.h for why.

#include "berth_http.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

// The few libcurl entry points berth uses, resolved once.
static struct {
    int loaded;
    char failure[200];
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    CURLcode (*global_init)(long);
} curl;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void load_curl(void) {
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) library = dlopen("libcurl-gnutls.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(curl.failure, sizeof curl.failure, "cannot load libcurl (install libcurl4): %s", dlerror());
        return;
    }
#define RESOLVE(field, name)                                                                              \
    do {                                                                                                  \
        *(void **)&curl.field = dlsym(library, name);                                                     \
        if (!curl.field) {                                                                                \
            snprintf(curl.failure, sizeof curl.failure, "libcurl lacks %s", name);                        \
            return;                                                                                       \
        }                                                                                                 \
    } while (0)
    RESOLVE(easy_init, "curl_easy_init");
    RESOLVE(easy_setopt, "curl_easy_setopt");
    RESOLVE(easy_perform, "curl_easy_perform");
    RESOLVE(easy_getinfo, "curl_easy_getinfo");
    RESOLVE(easy_cleanup, "curl_easy_cleanup");
    RESOLVE(easy_strerror, "curl_easy_strerror");
    RESOLVE(slist_append, "curl_slist_append");
    RESOLVE(slist_free_all, "curl_slist_free_all");
    RESOLVE(global_init, "curl_global_init");
#undef RESOLVE
    // Not thread-safe in old libcurl versions: done once, here, under pthread_once.
    if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(curl.failure, sizeof curl.failure, "curl_global_init failed");
        return;
    }
    curl.loaded = 1;
}

struct transfer {
    const struct berth_http_request *request;
    berth_http_sink body, header;
    void *context;
    int64_t sent;  // bytes of the request body handed to libcurl
};

static size_t on_body(char *data, size_t size, size_t count, void *user) {
    struct transfer *t = user;
    return t->body(t->context, data, size * count) == 0 ? size * count : 0;
}

static size_t on_header(char *data, size_t size, size_t count, void *user) {
    struct transfer *t = user;
    return t->header(t->context, data, size * count) == 0 ? size * count : 0;
}

static size_t on_read(char *buffer, size_t size, size_t count, void *user) {
    struct transfer *t = user;
    int64_t left = t->request->body_length - t->sent;
    size_t want = size * count;
    if (left <= 0) return 0;
    if ((int64_t)want > left) want = (size_t)left;
    if (t->request->body_fd >= 0) {
        ssize_t n;
        do n = read(t->request->body_fd, buffer, want);
        while (n < 0 && errno == EINTR);
        if (n < 0) return CURL_READFUNC_ABORT;
        t->sent += n;
        return (size_t)n;
    }
    memcpy(buffer, (const char *)t->request->body + t->sent, want);
    t->sent += (int64_t)want;
    return want;
}

int berth_http_perform(const struct berth_http_request *request, berth_http_sink body, berth_http_sink header,
                       void *context, long *status, char *error, size_t error_size) {
    pthread_once(&curl_once, load_curl);
    if (!curl.loaded) {
        snprintf(error, error_size, "%s", curl.failure);
        return -1;
    }
    CURL *handle = curl.easy_init();
    if (!handle) {
        snprintf(error, error_size, "curl_easy_init failed");
        return -1;
    }
    struct transfer t = {request, body, header, context, 0};
    struct curl_slist *headers = NULL;
    for (int i = 0; i < request->header_count; i++) headers = curl.slist_append(headers, request->headers[i]);
    // No "Expect: 100-continue" round trip before uploads.
    headers = curl.slist_append(headers, "Expect:");
    char message[CURL_ERROR_SIZE] = "";

    curl.easy_setopt(handle, CURLOPT_URL, request->url);
    curl.easy_setopt(handle, CURLOPT_ERRORBUFFER, message);
    curl.easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl.easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
    curl.easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body);
    curl.easy_setopt(handle, CURLOPT_WRITEDATA, &t);
    curl.easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
    curl.easy_setopt(handle, CURLOPT_HEADERDATA, &t);
    curl.easy_setopt(handle, CURLOPT_FOLLOWLOCATION, request->follow_redirects ? 1L : 0L);
    curl.easy_setopt(handle, CURLOPT_MAXREDIRS, 10L);
    // Redirects may go to another host (blob storage): the Authorization header stays behind
    // when a redirect changes scheme, host or port (libcurl ≥ 7.83 applies this to custom
    // Authorization headers too).
    curl.easy_setopt(handle, CURLOPT_UNRESTRICTED_AUTH, 0L);
    curl.easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
    // An https request is never redirected to plain http.
    curl.easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR,
                     strncmp(request->url, "https:", 6) == 0 ? "https" : "http,https");
    curl.easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, request->verify_tls ? 1L : 0L);
    curl.easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, request->verify_tls ? 2L : 0L);
    curl.easy_setopt(handle, CURLOPT_CONNECTTIMEOUT, request->connect_timeout_seconds);
    curl.easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl.easy_setopt(handle, CURLOPT_LOW_SPEED_TIME, request->stall_timeout_seconds);
    curl.easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "");

    int has_body = request->body != NULL || request->body_fd >= 0;
    if (strcmp(request->method, "HEAD") == 0) {
        curl.easy_setopt(handle, CURLOPT_NOBODY, 1L);
    } else if (has_body) {
        curl.easy_setopt(handle, CURLOPT_UPLOAD, 1L);
        curl.easy_setopt(handle, CURLOPT_READFUNCTION, on_read);
        curl.easy_setopt(handle, CURLOPT_READDATA, &t);
        curl.easy_setopt(handle, CURLOPT_INFILESIZE_LARGE, (curl_off_t)request->body_length);
        curl.easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request->method);
    } else if (strcmp(request->method, "GET") != 0) {
        curl.easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request->method);
        if (strcmp(request->method, "POST") == 0 || strcmp(request->method, "PUT") == 0
            || strcmp(request->method, "PATCH") == 0) {
            // An empty body still needs Content-Length: 0.
            curl.easy_setopt(handle, CURLOPT_POSTFIELDS, "");
            curl.easy_setopt(handle, CURLOPT_POSTFIELDSIZE, 0L);
        }
    }

    CURLcode code = curl.easy_perform(handle);
    int result = 0;
    if (code == CURLE_OK) {
        curl.easy_getinfo(handle, CURLINFO_RESPONSE_CODE, status);
    } else {
        snprintf(error, error_size, "%s", message[0] ? message : curl.easy_strerror(code));
        result = -1;
    }
    curl.slist_free_all(headers);
    curl.easy_cleanup(handle);
    return result;
}
