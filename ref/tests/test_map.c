/* test_map.c: maps as registries of live channels: their lifetime (new, free,
 * close_all, exit), the per-thread default map behind a NULL argument, and
 * the CQ22 rule that exactly one live channel owns an fd in a map. */
#include <pthread.h>

#include "check_util.h"
#include "handle.h"

/* Every test compares the open descriptors at its end with its start. */
#define FDS_BEGIN() const int fds_at_start = open_fds()
#define FDS_END() ck_assert_int_eq(open_fds(), fds_at_start)

typedef struct {
    int reads;
    int closes;
    int busy_rc;   /* what ac_map_free returned inside a callback */
    int free_default; /* 1: the callback frees the default map (NULL) */
} counts_t;

static int never(ac_disp_t *d, void *ud)
{
    (void)d;
    (void)ud;
    return 0;
}

/* Drains what is there so the channel is not readable again for no reason. */
static void on_read(ac_disp_t *d, void *ud)
{
    counts_t *c = ud;
    char buf[256];
    c->reads++;
    (void)ac_disp_recv(d, buf, sizeof(buf));
}

static void on_close(ac_disp_t *d, void *ud)
{
    (void)d;
    ((counts_t *)ud)->closes++;
}

static const ac_ops_t reader_ops = {
    .writable = never, .handle_read = on_read, .handle_close = on_close};

/* A dispatcher in map adopting fd, with the reader ops. */
static ac_disp_t *reader(ac_map_t *map, int fd, counts_t *c)
{
    ac_disp_t *d = NULL;
    ck_assert_int_eq(ac_disp_new(&d, map, &reader_ops, c), 0);
    ck_assert_int_eq(ac_disp_adopt(d, fd), 0);
    return d;
}

/* A peer that closed leaves no descriptor behind but shows EOF to the
 * other end: how the tests see that the library closed its socket. */
static void assert_peer_eof(int fd)
{
    char c;
    ck_assert_int_eq((int)recv(fd, &c, 1, MSG_DONTWAIT), 0);
}

START_TEST(test_new_and_free)
{
    FDS_BEGIN();
    ac_map_t *map = NULL;
    ck_assert_int_eq(ac_map_new(NULL), -EINVAL);
    ck_assert_int_eq(ac_map_new(&map), 0);
    ck_assert_ptr_nonnull(map);
    ck_assert_uint_eq(ac_map_size(map), 0);
    ck_assert_int_eq(ac_map_close_all(map), 0);
    ck_assert_int_eq(ac_map_exit(map), 0);
    ck_assert_int_eq(ac_map_free(map), 0);
    FDS_END();
}
END_TEST

START_TEST(test_size_counts_open_channels)
{
    FDS_BEGIN();
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    counts_t c = {0};
    ac_disp_t *idle;
    /* A handle without a socket is bound but not registered. */
    ck_assert_int_eq(ac_disp_new(&idle, map, &reader_ops, &c), 0);
    ck_assert_uint_eq(ac_map_size(map), 0);
    int a[2], b[2];
    make_pair(a);
    make_pair(b);
    ac_disp_t *da = reader(map, a[0], &c);
    ac_disp_t *db = reader(map, b[0], &c);
    ck_assert_uint_eq(ac_map_size(map), 2);
    ck_assert_int_eq(ac_disp_close(da), 0);
    ck_assert_uint_eq(ac_map_size(map), 1);
    ac_disp_free(db);
    ck_assert_uint_eq(ac_map_size(map), 0);
    ac_disp_free(da);
    ac_disp_free(idle);
    ck_assert_int_eq(c.closes, 0);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(a[1]);
    close(b[1]);
    FDS_END();
}
END_TEST

START_TEST(test_default_map_is_stable_in_thread)
{
    FDS_BEGIN();
    ac_map_t *m = ac_map_default();
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_eq(ac_map_default(), m);
    counts_t c = {0};
    ac_disp_t *d;
    ck_assert_int_eq(ac_disp_new(&d, NULL, &reader_ops, &c), 0);
    ck_assert_ptr_eq(ac_disp_map(d), m);
    int sv[2];
    make_pair(sv);
    ck_assert_int_eq(ac_disp_adopt(d, sv[0]), 0);
    ck_assert_uint_eq(ac_map_size(NULL), 1);
    ck_assert_uint_eq(ac_map_size(m), 1);
    /* NULL reaches the same map in the loop as in the constructor. */
    peer_write(sv[1], "x", 1);
    ck_assert_int_eq(ac_poll(NULL, 1000, NULL), 1);
    ck_assert_int_eq(c.reads, 1);
    ck_assert_int_eq(ac_map_free(NULL), 0);
    ck_assert_int_eq(ac_disp_closed(d), 1);
    ck_assert_ptr_null(ac_disp_map(d));
    ac_disp_free(d);
    close(sv[1]);
    FDS_END();
}
END_TEST

/* What a second thread saw of its own default map. */
typedef struct {
    ac_map_t *main_map;
    ac_map_t *seen, *seen_again, *disp_map;
    size_t size_before, size_after;
    int adopt_rc;
    int fd;
    ac_disp_t *d;
    counts_t c;
} thread_view_t;

static void *thread_body(void *arg)
{
    thread_view_t *v = arg;
    v->seen = ac_map_default();
    v->seen_again = ac_map_default();
    v->size_before = ac_map_size(NULL);
    if (ac_disp_new(&v->d, NULL, &reader_ops, &v->c) == 0) {
        v->disp_map = ac_disp_map(v->d);
        v->adopt_rc = ac_disp_adopt(v->d, v->fd);
    }
    v->size_after = ac_map_size(NULL);
    /* The handle outlives the thread: its default map (and with it the
     * socket) goes at thread exit, the handle stays the test's to free. */
    return NULL;
}

START_TEST(test_default_map_per_thread)
{
    FDS_BEGIN();
    ac_map_t *mine = ac_map_default();
    counts_t c = {0};
    int sv[2], tv[2];
    make_pair(sv);
    make_pair(tv);
    ac_disp_t *d = reader(NULL, sv[0], &c);
    ck_assert_uint_eq(ac_map_size(NULL), 1);

    thread_view_t v = {.main_map = mine, .fd = tv[0], .adopt_rc = 1};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, thread_body, &v), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);

    ck_assert_ptr_nonnull(v.seen);
    ck_assert_ptr_ne(v.seen, mine);
    ck_assert_ptr_eq(v.seen_again, v.seen);
    ck_assert_ptr_eq(v.disp_map, v.seen);
    ck_assert_int_eq(v.adopt_rc, 0);
    ck_assert_uint_eq(v.size_before, 0);
    ck_assert_uint_eq(v.size_after, 1);
    /* This thread's map never saw the other channel. */
    ck_assert_uint_eq(ac_map_size(NULL), 1);
    ck_assert_ptr_eq(ac_map_default(), mine);
    /* Thread exit freed its default map: the socket is closed, the handle
     * detached but still valid. */
    ck_assert_int_eq(ac_disp_closed(v.d), 1);
    ck_assert_ptr_null(ac_disp_map(v.d));
    assert_peer_eof(tv[1]);
    ck_assert_int_eq(v.c.closes, 0);
    ac_disp_free(v.d);

    ac_disp_free(d);
    ck_assert_int_eq(ac_map_free(NULL), 0);
    close(sv[1]);
    close(tv[1]);
    FDS_END();
}
END_TEST

/* CQ22: a second adopt of a live channel's fd is refused; the owner keeps
 * its registration and goes on working, also after the loser is freed. */
START_TEST(test_adopt_refuses_live_fd)
{
    FDS_BEGIN();
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    counts_t c1 = {0}, c2 = {0};
    int sv[2];
    make_pair(sv);
    ac_disp_t *d1 = reader(map, sv[0], &c1);
    ac_disp_t *d2;
    ck_assert_int_eq(ac_disp_new(&d2, map, &reader_ops, &c2), 0);
    ck_assert_int_eq(ac_disp_adopt(d2, sv[0]), -EEXIST);
    ck_assert_int_eq(ac_disp_fd(d2), -1);
    ck_assert_int_eq(ac_disp_closed(d2), 0);
    ck_assert_uint_eq(ac_map_size(map), 1);
    /* The public API never lets d2 hold sv[0]; the unregister guard is
     * checked directly as if it did. */
    d2->io.fd = sv[0];
    ac__map_del(map, &d2->io);
    d2->io.fd = -1;
    ck_assert_ptr_eq(map->byfd[sv[0]], &d1->io);
    ck_assert_uint_eq(ac_map_size(map), 1);
    ac_disp_free(d2);
    ck_assert_uint_eq(ac_map_size(map), 1);
    ck_assert_int_eq(ac_disp_fd(d1), sv[0]);
    ck_assert_ptr_eq(map->byfd[sv[0]], &d1->io);
    /* The fd stays open (the refused adopt did not take it). */
    ck_assert_int_ge(fcntl(sv[0], F_GETFD), 0);

    peer_write(sv[1], "ping", 4);
    ck_assert_int_eq(ac_poll(map, 1000, NULL), 1);
    ck_assert_int_eq(c1.reads, 1);
    ck_assert_int_eq(c2.reads, 0);
    ac_disp_free(d1);
    ck_assert_int_eq(ac_map_free(map), 0);
    assert_peer_eof(sv[1]);
    close(sv[1]);
    FDS_END();
}
END_TEST

/* CQ22: closing (or freeing) a channel removes its own entry only, even when
 * its old fd number now belongs to another live channel. */
START_TEST(test_close_removes_only_itself)
{
    FDS_BEGIN();
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    counts_t c1 = {0}, c2 = {0};
    int a[2], b[2];
    make_pair(a);
    ac_disp_t *d1 = reader(map, a[0], &c1);
    int fd = a[0];
    ck_assert_int_eq(ac_disp_close(d1), 0);
    make_pair(b);
    if (b[0] != fd) {
        ck_assert_int_eq(dup3(b[0], fd, O_CLOEXEC), fd);
        close(b[0]);
        b[0] = fd;
    }
    ac_disp_t *d2 = reader(map, fd, &c2);
    ck_assert_uint_eq(ac_map_size(map), 1);
    ck_assert_int_eq(ac_disp_close(d1), -EBADF);
    ac_disp_free(d1);
    ck_assert_uint_eq(ac_map_size(map), 1);
    ck_assert_ptr_eq(map->byfd[fd], &d2->io);
    ck_assert_int_ge(fcntl(fd, F_GETFD), 0);

    peer_write(b[1], "x", 1);
    ck_assert_int_eq(ac_poll(map, 1000, NULL), 1);
    ck_assert_int_eq(c2.reads, 1);
    ck_assert_int_eq(c1.reads, 0);
    ck_assert_int_eq(ac_map_free(map), 0);
    ac_disp_free(d2);
    close(a[1]);
    close(b[1]);
    FDS_END();
}
END_TEST

START_TEST(test_close_all)
{
    FDS_BEGIN();
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    counts_t c = {0};
    int sv[3][2];
    ac_disp_t *d[3];
    for (int i = 0; i < 3; i++) {
        make_pair(sv[i]);
        d[i] = reader(map, sv[i][0], &c);
    }
    ac_disp_t *idle;
    ck_assert_int_eq(ac_disp_new(&idle, map, &reader_ops, &c), 0);
    ck_assert_int_eq(ac_map_close_all(map), 3);
    ck_assert_uint_eq(ac_map_size(map), 0);
    ck_assert_int_eq(c.closes, 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ac_disp_closed(d[i]), 1);
        ck_assert_int_eq(ac_disp_close(d[i]), -EBADF);
        assert_peer_eof(sv[i][1]);
    }
    /* Only channels with a socket count; the handle-only one is not one. */
    ck_assert_int_eq(ac_disp_closed(idle), 0);
    ck_assert_int_eq(ac_map_close_all(map), 0);
    ck_assert_int_eq(ac_loop(map, AC_INFINITE, NULL, AC_LOOP_FOREVER), 0);
    ck_assert_int_eq(c.closes, 0);
    for (int i = 0; i < 3; i++) {
        ac_disp_free(d[i]);
        close(sv[i][1]);
    }
    ac_disp_free(idle);
    ck_assert_int_eq(ac_map_free(map), 0);
    FDS_END();
}
END_TEST

/* Freeing a map with open channels (plain and chat) closes their sockets
 * without handle_close and leaves every handle valid for its owner. */
START_TEST(test_free_with_open_channels)
{
    FDS_BEGIN();
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    counts_t c = {0};
    int a[2], b[2], ch[2];
    make_pair(a);
    make_pair(b);
    make_pair(ch);
    ac_disp_t *da = reader(map, a[0], &c);
    ac_disp_t *db = reader(map, b[0], &c);
    ac_disp_t *fresh;
    ck_assert_int_eq(ac_disp_new(&fresh, map, &reader_ops, &c), 0);
    ac_chat_t *chat;
    ck_assert_int_eq(ac_chat_new(&chat, map, NULL, NULL), 0);
    ck_assert_int_eq(ac_disp_adopt(ac_chat_disp(chat), ch[0]), 0);
    ck_assert_int_eq(ac_chat_push(chat, "queued", 6), 0);
    ck_assert_uint_eq(ac_map_size(map), 3);

    ck_assert_int_eq(ac_map_free(map), 0);
    /* Three sockets gone: only the test's peers remain. */
    ck_assert_int_eq(open_fds(), fds_at_start + 3);
    ck_assert_int_eq(c.closes, 0);
    assert_peer_eof(a[1]);
    assert_peer_eof(b[1]);
    assert_peer_eof(ch[1]); /* the queued bytes were never sent */
    ac_disp_t *all[] = {da, db, ac_chat_disp(chat)};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ac_disp_closed(all[i]), 1);
        ck_assert_ptr_null(ac_disp_map(all[i]));
        ck_assert_int_eq(ac_disp_fd(all[i]), -1);
        ck_assert_int_eq(ac_disp_close(all[i]), -EBADF);
    }
    ck_assert_int_eq(ac_chat_push(chat, "x", 1), -EBADF);
    /* A detached handle cannot take a socket: it has no map to join. */
    ck_assert_ptr_null(ac_disp_map(fresh));
    ck_assert_int_eq(ac_disp_create_socket(fresh, AF_UNIX, SOCK_STREAM),
                     -EBADF);
    ac_disp_free(da);
    ac_disp_free(db);
    ac_disp_free(fresh);
    ac_chat_free(chat);
    close(a[1]);
    close(b[1]);
    close(ch[1]);
    FDS_END();
}
END_TEST

static void free_map_in_read(ac_disp_t *d, void *ud)
{
    counts_t *c = ud;
    char buf[16];
    c->reads++;
    (void)ac_disp_recv(d, buf, sizeof(buf));
    c->busy_rc = ac_map_free(c->free_default ? NULL : ac_disp_map(d));
}

static const ac_ops_t free_map_ops = {.writable = never,
                                      .handle_read = free_map_in_read};

/* _i = 0: an explicit map, 1: the default map through NULL. */
START_TEST(test_free_inside_callback_is_busy)
{
    FDS_BEGIN();
    ac_map_t *map = NULL;
    if (_i == 0)
        ck_assert_int_eq(ac_map_new(&map), 0);
    counts_t c = {.busy_rc = 1, .free_default = _i == 1};
    int sv[2];
    make_pair(sv);
    ac_disp_t *d;
    ck_assert_int_eq(ac_disp_new(&d, map, &free_map_ops, &c), 0);
    ck_assert_int_eq(ac_disp_adopt(d, sv[0]), 0);
    peer_write(sv[1], "x", 1);
    ck_assert_int_eq(ac_poll(map, 1000, NULL), 1);
    ck_assert_int_eq(c.reads, 1);
    ck_assert_int_eq(c.busy_rc, -EBUSY);
    /* The refused free changed nothing: the map still serves d. */
    ck_assert_uint_eq(ac_map_size(map), 1);
    ck_assert_int_eq(ac_disp_closed(d), 0);
    ac_disp_free(d);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(sv[1]);
    FDS_END();
}
END_TEST

START_TEST(test_two_maps_are_independent)
{
    FDS_BEGIN();
    ac_map_t *ma, *mb;
    ck_assert_int_eq(ac_map_new(&ma), 0);
    ck_assert_int_eq(ac_map_new(&mb), 0);
    counts_t ca = {0}, cb = {0};
    int a[2], b[2];
    make_pair(a);
    make_pair(b);
    ac_disp_t *da = reader(ma, a[0], &ca);
    ac_disp_t *db = reader(mb, b[0], &cb);
    peer_write(a[1], "a", 1);
    peer_write(b[1], "b", 1);
    ck_assert_int_eq(ac_loop(ma, 0, NULL, 3), 0);
    ck_assert_int_eq(ca.reads, 1);
    ck_assert_int_eq(cb.reads, 0);
    /* Exit and close_all on A leave B alone. */
    ck_assert_int_eq(ac_map_exit(ma), 0);
    ck_assert_int_eq(ac_map_close_all(ma), 1);
    ck_assert_uint_eq(ac_map_size(mb), 1);
    ck_assert_int_eq(ac_disp_closed(db), 0);
    ck_assert_int_eq(ac_poll(mb, 1000, NULL), 1);
    ck_assert_int_eq(cb.reads, 1);
    ck_assert_int_eq(ca.reads, 1);
    ac_disp_free(da);
    ac_disp_free(db);
    ck_assert_int_eq(ac_map_free(ma), 0);
    ck_assert_int_eq(ac_map_free(mb), 0);
    close(a[1]);
    close(b[1]);
    FDS_END();
}
END_TEST

/* M1: with no default map yet, the operations that only read or empty one
 * have nothing to do (0) and leave the thread without one. */
static void *absent_body(void *arg)
{
    int *rc = arg;
    rc[0] = ac_map_free(NULL);
    rc[1] = ac_map_close_all(NULL);
    rc[2] = ac_map_exit(NULL);
    rc[3] = ac_loop(NULL, 0, NULL, 1);
    rc[4] = (int)ac_map_size(NULL);
    return NULL;
}

START_TEST(test_absent_default_map)
{
    int rc[5] = {-1, -1, -1, -1, -1};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, absent_body, rc), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(rc[i], 0);
}
END_TEST

static Suite *map_suite(void)
{
    Suite *s = suite_create("map");
    TCase *tc = tcase_create("map");
    tcase_add_test(tc, test_new_and_free);
    tcase_add_test(tc, test_size_counts_open_channels);
    tcase_add_test(tc, test_default_map_is_stable_in_thread);
    tcase_add_test(tc, test_default_map_per_thread);
    tcase_add_test(tc, test_adopt_refuses_live_fd);
    tcase_add_test(tc, test_close_removes_only_itself);
    tcase_add_test(tc, test_close_all);
    tcase_add_test(tc, test_free_with_open_channels);
    tcase_add_loop_test(tc, test_free_inside_callback_is_busy, 0, 2);
    tcase_add_test(tc, test_two_maps_are_independent);
    tcase_add_test(tc, test_absent_default_map);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(map_suite());
}
