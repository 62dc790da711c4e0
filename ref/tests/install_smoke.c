/* install_smoke.c: the program `make install-check` builds against an
 * installed achat with nothing but `pkg-config --cflags --libs achat`, so
 * that the installed header, library and achat.pc are known to work. */
#include <stdio.h>
#include <string.h>

#include <achat.h>

static int records;

static void found(void *ud)
{
    (void)ud;
    records++;
}

int main(int argc, char **argv)
{
    char version[32];
    snprintf(version, sizeof(version), "%d.%d", AC_VERSION_MAJOR,
             AC_VERSION_MINOR);
    if (argc != 2 || strcmp(argv[1], version) != 0) {
        fprintf(stderr, "install_smoke: achat.pc says version %s, achat.h "
                        "%s\n", argc == 2 ? argv[1] : "(none given)", version);
        return 1;
    }
    static const ac_framer_cbs_t cbs = {.found = found};
    ac_framer_t *f = NULL;
    ac_map_t *map = NULL;
    int rc = ac_framer_new(&f, &cbs, NULL);
    if (rc == 0)
        rc = ac_framer_set_terminator(f, "\r\n", 2);
    if (rc == 0)
        rc = ac_framer_feed(f, "one\r\ntwo\r", 9);
    if (rc == 0)
        rc = ac_framer_feed(f, "\nthr", 4);
    if (rc == 0)
        rc = ac_map_new(&map);
    if (rc == 0)
        rc = ac_loop(map, 0, &ac_backend_poll, 1); /* an empty map: returns */
    const void *held;
    size_t nheld = ac_framer_held(f, &held);
    ac_framer_free(f);
    if (map)
        ac_map_free(map);
    if (rc != 0 || records != 2 || nheld != 0) {
        fprintf(stderr, "install_smoke: %s, %d records (want 2), %zu bytes "
                        "held (want 0)\n", ac_strerror(rc), records, nheld);
        return 1;
    }
    printf("install_smoke: achat %s from the installed prefix: 2 records "
           "framed, an empty loop returned\n", version);
    return 0;
}
