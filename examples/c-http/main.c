// Spin HTTP component in C using the legacy `fermyon:spin/inbound-http` interface.
// Bindings: `wit-bindgen c wit --out-dir gen` (see examples/build.sh). Built as a
// reactor core module that carries the `component-type` custom section; the host
// componentizes it with the wasi_snapshot_preview1 adapter, as `spin up` does.
//
//   any path            -> 200 text/plain "Hello from C!"
//   path ending /missing -> 404 text/plain "not found"
// The guest sees the full request path (plus query) in `uri`, whatever the route.
#include <stdlib.h>
#include <string.h>

#include "http_trigger.h"

typedef exports_fermyon_spin_inbound_http_request_t request_t;
typedef exports_fermyon_spin_inbound_http_response_t response_t;

static int path_ends_with(const http_trigger_string_t *uri, const char *suffix) {
    size_t len = uri->len, n = strlen(suffix);
    const char *p = (const char *)uri->ptr;
    const char *q = memchr(p, '?', len);
    if (q) len = (size_t)(q - p);
    return len >= n && memcmp(p + len - n, suffix, n) == 0;
}

// Ownership of every buffer in the response passes to the canonical ABI
// post-return function, which free()s them: allocate with malloc.
static void respond(response_t *ret, uint16_t status, const char *content_type, const char *body) {
    http_trigger_tuple2_string_string_t *h = malloc(sizeof *h);
    http_trigger_string_dup(&h[0].f0, "content-type");
    http_trigger_string_dup(&h[0].f1, content_type);
    ret->status = status;
    ret->headers.is_some = true;
    ret->headers.val.ptr = h;
    ret->headers.val.len = 1;
    size_t n = strlen(body);
    ret->body.is_some = true;
    ret->body.val.ptr = malloc(n);
    ret->body.val.len = n;
    memcpy(ret->body.val.ptr, body, n);
}

void exports_fermyon_spin_inbound_http_handle_request(request_t *req, response_t *ret) {
    if (path_ends_with(&req->uri, "/missing")) {
        respond(ret, 404, "text/plain", "not found");
    } else {
        respond(ret, 200, "text/plain", "Hello from C!");
    }
    exports_fermyon_spin_inbound_http_request_free(req);
}
