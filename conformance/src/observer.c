/* observer.c: the hand-written tests' common record of one channel's
 * handler calls (hw_obs_t, runner.h), so each test file states only what
 * its own channels do differently. */
#include <string.h>
#include <unistd.h>

#include "runner.h"

void hw_obs_collect(void *obs, const void *data, size_t len)
{
    hw_obs_t *o = obs;
    if (o->buf && o->n < o->cap)
        memcpy(o->buf + o->n, data, len < o->cap - o->n ? len : o->cap - o->n);
    o->n += len;
}

void hw_obs_found(void *obs) { ((hw_obs_t *)obs)->found++; }
void hw_obs_close(void *obs) { ((hw_obs_t *)obs)->closes++; }

void hw_obs_error(void *obs, int err)
{
    hw_obs_t *o = obs;
    o->errors++;
    o->err = err;
}

void hw_obs_connect(void *obs) { ((hw_obs_t *)obs)->connects++; }

/* The suite owns an accepted descriptor (acc_adapter.h) and has no use for
 * it here. */
void hw_obs_accept(void *obs, int fd)
{
    close(fd);
    ((hw_obs_t *)obs)->accepts++;
}

void hw_obs_read(void *obs) { ((hw_obs_t *)obs)->reads++; }
void hw_obs_write(void *obs) { ((hw_obs_t *)obs)->writes++; }
int hw_obs_readable(void *obs) { return ((hw_obs_t *)obs)->rd; }
int hw_obs_writable(void *obs) { return ((hw_obs_t *)obs)->wr; }
int hw_obs_yes(void *obs) { (void)obs; return 1; }
int hw_obs_no(void *obs) { (void)obs; return 0; }

const acc_events_t hw_obs_events = {
    .collect = hw_obs_collect, .found = hw_obs_found, .close = hw_obs_close,
    .error = hw_obs_error, .connect = hw_obs_connect, .accept = hw_obs_accept,
    .readable = hw_obs_readable, .writable = hw_obs_writable, .read = hw_obs_read,
    .write = hw_obs_write};

const acc_events_t hw_obs_reader_events = {
    .collect = hw_obs_collect, .found = hw_obs_found, .close = hw_obs_close,
    .error = hw_obs_error, .connect = hw_obs_connect, .accept = hw_obs_accept,
    .readable = hw_obs_yes, .writable = hw_obs_no, .read = hw_obs_read,
    .write = hw_obs_write};

const acc_events_t hw_obs_chat_events = {
    .collect = hw_obs_collect, .found = hw_obs_found, .close = hw_obs_close,
    .error = hw_obs_error, .connect = hw_obs_connect, .accept = hw_obs_accept};

int hw_obs_calls(const hw_obs_t *o)
{
    return (o->n > 0) + o->found + o->closes + o->errors + o->connects + o->accepts +
           o->reads + o->writes;
}

void hw_obs_init(hw_obs_t *o, char *buf, size_t cap)
{
    memset(o, 0, sizeof(*o));
    o->buf = buf;
    o->cap = cap;
}

size_t hw_obs_kept(const hw_obs_t *o)
{
    return o->buf == NULL ? 0 : o->n < o->cap ? o->n : o->cap;
}
