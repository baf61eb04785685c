/* glibc's fortified fprintf, which Debian's static libseccomp (built with _FORTIFY_SOURCE) calls;
 * musl has no such entry point. Same behaviour without the extra checks. */
#include <stdarg.h>
#include <stdio.h>

int __fprintf_chk(FILE *stream, int flag, const char *format, ...) {
  (void)flag;
  va_list args;
  va_start(args, format);
  int written = vfprintf(stream, format, args);
  va_end(args);
  return written;
}
