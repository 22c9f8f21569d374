/* Error messages into a caller's buffer, the convention of models/ and
 * host/ alike: a function that can fail takes (char *err, size_t n) and
 * returns non-zero with the message written there. */
#ifndef AFS_FAIL_H
#define AFS_FAIL_H

#include <stddef.h>

/* Formats the message into err and returns -1. */
int afs_fail(char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
