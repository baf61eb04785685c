// A Wagi (CGI over WASI) module: the request comes in through environment variables
// (PATH_INFO, QUERY_STRING, X_MATCHED_ROUTE, REQUEST_METHOD, ...), argv and stdin;
// the response is CGI on stdout: headers, a blank line, then the body. With the query
// `then=trap` it traps after the first body line; with `then=count` it answers how many bytes
// of stdin it read.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v ? v : "";
}

int main(int argc, char **argv) {
    printf("Content-Type: text/plain\n");
    printf("X-Wagi: yes\n");
    printf("\n");
    printf("Hello from Wagi!\n");
    if (strcmp(env("QUERY_STRING"), "then=trap") == 0) {
        // A partial response, flushed, then a trap (the cut-short response tests).
        fflush(stdout);
        __builtin_trap();
    }
    if (strcmp(env("QUERY_STRING"), "then=count") == 0) {
        // Reads stdin to its end, holding one buffer at a time, and prints how much came.
        char buf[65536];
        size_t n, total = 0;
        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) total += n;
        printf("CONTENT_LENGTH=%s read=%zu\n", env("CONTENT_LENGTH"), total);
        return 0;
    }
    printf("PATH_INFO=%s\n", env("PATH_INFO"));
    printf("QUERY_STRING=%s\n", env("QUERY_STRING"));
    printf("X_MATCHED_ROUTE=%s\n", env("X_MATCHED_ROUTE"));
    printf("REQUEST_METHOD=%s\n", env("REQUEST_METHOD"));
    printf("ARGS=");
    for (int i = 0; i < argc; i++) printf(i ? " %s" : "%s", argv[i]);
    printf("\n");
    printf("BODY=");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
    // No newline after the body: the response ends with exactly the bytes of stdin.
    fflush(stdout);
    return 0;
}
