// Redis-triggered component in C (`fermyon:spin/inbound-redis`, wit-bindgen c + clang reactor
// module, componentized by the host). Records each message with outbound Redis so tests and the
// benchmark can see it ran:
//
//   any payload -> RPUSH <KEY_PREFIX>:messages <payload>   (KEY_PREFIX env, default "c")
//   "error"     -> returns the `error` case (nothing recorded)
//   "trap"      -> traps (nothing recorded)
//
// REDIS_ADDRESS (env, e.g. `spinkube up -e REDIS_ADDRESS=redis://127.0.0.1:6379`) is where.
#include <stdlib.h>
#include <string.h>

#include "redis_c.h"

typedef exports_fermyon_spin_inbound_redis_payload_t payload_t;
typedef exports_fermyon_spin_inbound_redis_error_t error_t;

static int payload_is(const payload_t *p, const char *s) {
    size_t n = strlen(s);
    return p->len == n && memcmp(p->ptr, s, n) == 0;
}

static int fail(error_t *err) {
    *err = FERMYON_SPIN_REDIS_TYPES_ERROR_ERROR;
    return 0;
}

bool exports_fermyon_spin_inbound_redis_handle_message(payload_t *message, error_t *err) {
    if (payload_is(message, "error")) return fail(err);
    if (payload_is(message, "trap")) __builtin_trap();

    const char *address = getenv("REDIS_ADDRESS");
    const char *prefix = getenv("KEY_PREFIX");
    if (!address) return fail(err);
    if (!prefix) prefix = "c";

    redis_c_string_t addr;
    redis_c_string_set(&addr, address);
    fermyon_spin_2_0_0_redis_own_connection_t conn;
    fermyon_spin_2_0_0_redis_error_t redis_err;
    if (!fermyon_spin_2_0_0_redis_static_connection_open(&addr, &conn, &redis_err)) {
        fermyon_spin_2_0_0_redis_error_free(&redis_err);
        return fail(err);
    }

    size_t key_len = strlen(prefix) + sizeof(":messages");
    char *key = malloc(key_len);
    strcpy(key, prefix);
    strcat(key, ":messages");
    fermyon_spin_2_0_0_redis_redis_parameter_t args[2];
    args[0].tag = FERMYON_SPIN_2_0_0_REDIS_REDIS_PARAMETER_BINARY;
    args[0].val.binary.ptr = (uint8_t *)key;
    args[0].val.binary.len = strlen(key);
    args[1].tag = FERMYON_SPIN_2_0_0_REDIS_REDIS_PARAMETER_BINARY;
    args[1].val.binary.ptr = message->ptr;
    args[1].val.binary.len = message->len;
    fermyon_spin_2_0_0_redis_list_redis_parameter_t list = {args, 2};
    redis_c_string_t command;
    redis_c_string_set(&command, "RPUSH");
    fermyon_spin_2_0_0_redis_list_redis_result_t results;
    fermyon_spin_2_0_0_redis_borrow_connection_t borrowed = fermyon_spin_2_0_0_redis_borrow_connection(conn);
    bool ok = fermyon_spin_2_0_0_redis_method_connection_execute(borrowed, &command, &list, &results, &redis_err);
    if (ok) {
        fermyon_spin_2_0_0_redis_list_redis_result_free(&results);
    } else {
        fermyon_spin_2_0_0_redis_error_free(&redis_err);
    }
    free(key);
    fermyon_spin_2_0_0_redis_connection_drop_own(conn);
    exports_fermyon_spin_inbound_redis_payload_free(message);
    return ok ? 1 : fail(err);
}
