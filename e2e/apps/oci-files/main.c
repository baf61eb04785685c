// Test app for OCI push/pull: a Wagi module that returns the file named by PATH_INFO from the
// component's `files` (404 if absent), plus the GREETING environment variable as a header.
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    const char *path = getenv("PATH_INFO");
    const char *greeting = getenv("GREETING");
    FILE *f = (path && *path) ? fopen(path, "rb") : NULL;
    if (!f) {
        printf("Status: 404 Not Found\nContent-Type: text/plain\n\nno file %s\n", path ? path : "");
        return 0;
    }
    printf("Content-Type: application/octet-stream\nX-Greeting: %s\n\n", greeting ? greeting : "");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
    fclose(f);
    fflush(stdout);
    return 0;
}
