/* acc_common.h: what the suite's own C parts share (the runner, the agent
 * client, the agent server and their tests), header-only so that none of
 * them links anything new: lookups in acc_adapter.h's vocabulary lists, the
 * monotonic clock, and bytes escaped for messages.  Not for adapters. */
#ifndef ACC_COMMON_H
#define ACC_COMMON_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "acc_adapter.h"

/* ------------------------------------------------------ capabilities -- */

typedef struct {
    const char *name;
    unsigned cap;
    int where; /* ACC_IN_CASES, ACC_ON_WIRE bits */
} acc_cap_name_t;

/* The capability list, bit order; *n gets its length. */
static inline const acc_cap_name_t *acc_cap_names(size_t *n)
{
#define ACC_CAP_ROW_(id, bit, name, where) {name, ACC_CAP_##id, where},
    static const acc_cap_name_t t[] = {ACC_CAP_LIST(ACC_CAP_ROW_)};
#undef ACC_CAP_ROW_
    *n = sizeof(t) / sizeof(t[0]);
    return t;
}

/* The ACC_CAP_* bit spelled name, if it is used where (ACC_IN_CASES or
 * ACC_ON_WIRE); 0 otherwise. */
static inline unsigned acc_cap_by_name(const char *name, int where)
{
    size_t n;
    const acc_cap_name_t *t = acc_cap_names(&n);
    for (size_t k = 0; k < n; k++)
        if ((t[k].where & where) && strcmp(t[k].name, name) == 0)
            return t[k].cap;
    return 0;
}

/* The names of the caps used where, comma-separated in bit order. */
static inline void acc_cap_csv(char *out, size_t cap, unsigned caps, int where)
{
    size_t n, o = 0;
    const acc_cap_name_t *t = acc_cap_names(&n);
    out[0] = '\0';
    for (size_t k = 0; k < n && o < cap; k++)
        if ((t[k].where & where) && (caps & t[k].cap))
            o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? "," : "", t[k].name);
}

/* ------------------------------------------------------------ errnos -- */

typedef struct {
    const char *name;
    int err;
    int in_cases;
} acc_errno_name_t;

static inline const acc_errno_name_t *acc_errno_names(size_t *n)
{
#define ACC_ERRNO_ROW_(name, in_cases) {#name, name, in_cases},
    static const acc_errno_name_t t[] = {ACC_ERRNO_LIST(ACC_ERRNO_ROW_)};
#undef ACC_ERRNO_ROW_
    *n = sizeof(t) / sizeof(t[0]);
    return t;
}

/* The name of positive errno err, NULL if unlisted (cases_only: unless a
 * case file may name it). */
static inline const char *acc_errno_lookup(int err, int cases_only)
{
    size_t n;
    const acc_errno_name_t *t = acc_errno_names(&n);
    for (size_t k = 0; k < n; k++)
        if (t[k].err == err && (t[k].in_cases || !cases_only))
            return t[k].name;
    return NULL;
}

/* The positive errno spelled name, 0 if unlisted (as above). */
static inline int acc_errno_value(const char *name, int cases_only)
{
    size_t n;
    const acc_errno_name_t *t = acc_errno_names(&n);
    for (size_t k = 0; k < n; k++)
        if ((t[k].in_cases || !cases_only) && strcmp(t[k].name, name) == 0)
            return t[k].err;
    return 0;
}

/* ------------------------------------------------------------- clock -- */

/* Monotonic time: deadlines and durations, never the wall clock. */
static inline int64_t acc_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t acc_mono_ms(void) { return acc_mono_ns() / 1000000; }
static inline double acc_mono_s(void) { return (double)acc_mono_ns() / 1e9; }

/* ---------------------------------------------------------- escaping -- */

/* A hex digit's value, -1 for anything else (case files' \x, the wire's %). */
static inline int acc_hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Bytes for a one-line message: C escapes, never a raw CR, LF or NUL; what
 * does not fit in cap ends in "...". */
static inline void acc_escape(char *out, size_t cap, const unsigned char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char tmp[8];
        unsigned char ch = p[i];
        if (ch == '\r') strcpy(tmp, "\\r");
        else if (ch == '\n') strcpy(tmp, "\\n");
        else if (ch == '\t') strcpy(tmp, "\\t");
        else if (ch == '\\') strcpy(tmp, "\\\\");
        else if (ch == '"') strcpy(tmp, "\\\"");
        else if (ch >= 0x20 && ch < 0x7f) tmp[0] = (char)ch, tmp[1] = 0;
        else snprintf(tmp, sizeof(tmp), "\\x%02x", ch);
        size_t k = strlen(tmp);
        if (o + k + 4 >= cap) {
            if (o + 4 < cap)
                strcpy(out + o, "..."), o += 3;
            break;
        }
        memcpy(out + o, tmp, k);
        o += k;
    }
    out[o < cap ? o : cap - 1] = '\0';
}

#endif /* ACC_COMMON_H */
