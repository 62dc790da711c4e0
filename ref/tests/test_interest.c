/* test_interest.c: what a pass watches when predicates are the library's
 * own (kept, not asked) and when they are the user's (asked every pass),
 * on every backend and across backend switches on one map. */
#include <check.h>

#include "check_util.h"
#include "handle.h"

typedef struct {
    int asked;      /* user readable() calls */
    int want_read;  /* what readable() answers */
    int records;
} probe_t;

static int probe_readable(ac_chat_t *c, void *ud)
{
    (void)c;
    probe_t *p = ud;
    p->asked++;
    return p->want_read;
}

static void probe_found(ac_chat_t *c, void *ud)
{
    (void)c;
    ((probe_t *)ud)->records++;
}

static ac_chat_t *chat_on(ac_map_t *map, int fd, const ac_chat_ops_t *ops,
                          probe_t *p)
{
    ac_chat_t *c;
    ck_assert_int_eq(ac_chat_new(&c, map, ops, p), 0);
    ck_assert_int_eq(ac_chat_set_terminator(c, "\n", 1), 0);
    ck_assert_int_eq(ac_disp_adopt(ac_chat_disp(c), fd), 0);
    return c;
}

/* Output queued while one backend served the map is sent after another
 * takes over: a stateful backend learns every interest when it starts. */
START_TEST(test_switch_backend_keeps_output)
{
    static const ac_chat_ops_t ops = {.found_terminator = probe_found};
    const ac_backend_t *const *all = ac_backends();
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    int sv[2];
    make_pair(sv);
    probe_t p = {0};
    ac_chat_t *c = chat_on(map, sv[0], &ops, &p);
    char buf[64];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; all[i]; i++) {
            ck_assert_int_eq(ac_chat_push(c, "ab\n", 3), 0);
            ck_assert_int_ge(ac_poll(map, 1000, all[i]), 1);
            ck_assert_uint_eq(peer_read(sv[1], buf, sizeof(buf)), 3);
            /* Nothing queued now: an idle pass must not fire. */
            ck_assert_int_eq(ac_poll(map, 0, all[i]), 0);
            peer_write(sv[1], "x\n", 2);
            wait_readable(sv[0]);
            ck_assert_int_eq(ac_poll(map, 1000, all[i]), 1);
        }
    }
    ck_assert_int_eq(p.records, 3 * backend_count());
    ac_chat_free(c);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(sv[1]);
}
END_TEST

/* A chat's user readable() is asked once a pass on every backend, and its
 * answer governs the pass. */
START_TEST(test_user_predicate_asked_each_pass)
{
    const ac_backend_t *b = backend_at(_i);
    static const ac_chat_ops_t ops = {.readable = probe_readable,
                                      .found_terminator = probe_found};
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    int sv[2];
    make_pair(sv);
    probe_t p = {0};
    ac_chat_t *c = chat_on(map, sv[0], &ops, &p);
    peer_write(sv[1], "r\n", 2);
    for (int i = 1; i <= 3; i++) {
        ck_assert_int_eq(ac_poll(map, 0, b), 0);
        ck_assert_int_eq(p.asked, i);
    }
    p.want_read = 1;
    ck_assert_int_eq(ac_poll(map, 1000, b), 1);
    ck_assert_int_eq(p.asked, 4);
    ck_assert_int_eq(p.records, 1);
    ac_chat_free(c);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(sv[1]);
}
END_TEST

/* A push made from another channel's handler is watched in the next pass,
 * though nobody asked the pushed-to chat anything. */
static void relay_found(ac_chat_t *c, void *ud)
{
    (void)c;
    ck_assert_int_eq(ac_chat_push(ud, "relayed\n", 8), 0);
}

START_TEST(test_push_from_other_handler)
{
    const ac_backend_t *b = backend_at(_i);
    static const ac_chat_ops_t relay_ops = {.found_terminator = relay_found};
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    int a[2], t[2];
    make_pair(a);
    make_pair(t);
    probe_t p = {0};
    ac_chat_t *target = chat_on(map, t[0], NULL, &p);
    ac_chat_t *relay;
    ck_assert_int_eq(ac_chat_new(&relay, map, &relay_ops, target), 0);
    ck_assert_int_eq(ac_chat_set_terminator(relay, "\n", 1), 0);
    ck_assert_int_eq(ac_disp_adopt(ac_chat_disp(relay), a[0]), 0);
    peer_write(a[1], "go\n", 3);
    ck_assert_int_eq(ac_poll(map, 1000, b), 1);
    ck_assert_int_eq(ac_poll(map, 1000, b), 1); /* target writes */
    char buf[16];
    ck_assert_uint_eq(peer_read(t[1], buf, sizeof(buf)), 8);
    ck_assert_int_eq(memcmp(buf, "relayed\n", 8), 0);
    ac_chat_free(relay);
    ac_chat_free(target);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(a[1]);
    close(t[1]);
}
END_TEST

/* The map's count of watched registrations follows opens, interest
 * changes and closes (a stateful pass sizes its wait by it). */
START_TEST(test_watching_count)
{
    ac_map_t *map;
    ck_assert_int_eq(ac_map_new(&map), 0);
    int sv[2];
    make_pair(sv);
    probe_t p = {0};
    ac_chat_t *c = chat_on(map, sv[0], NULL, &p);
    ck_assert_uint_eq(map->watching, 1);
    ck_assert_int_eq(ac_chat_push(c, "x", 1), 0);
    ck_assert_uint_eq(map->watching, 1);
    ck_assert_uint_eq(ac_chat_disp(c)->io.interest, AC__EV_IN | AC__EV_OUT);
    ck_assert_int_eq(ac_chat_discard_buffers(c), 0);
    ck_assert_uint_eq(ac_chat_disp(c)->io.interest, AC__EV_IN);
    ck_assert_int_eq(ac_disp_close(ac_chat_disp(c)), 0);
    ck_assert_uint_eq(map->watching, 0);
    ac_chat_free(c);
    ck_assert_int_eq(ac_map_free(map), 0);
    close(sv[1]);
}
END_TEST

static Suite *interest_suite(void)
{
    Suite *s = suite_create("interest");
    TCase *tc = tcase_create("interest");
    tcase_add_test(tc, test_switch_backend_keeps_output);
    tcase_add_loop_test(tc, test_user_predicate_asked_each_pass, 0,
                        backend_count());
    tcase_add_loop_test(tc, test_push_from_other_handler, 0, backend_count());
    tcase_add_test(tc, test_watching_count);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(interest_suite());
}
