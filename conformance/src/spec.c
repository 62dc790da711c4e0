/* spec.c: the clause table of docs/spec.md, read once by the runner: each
 * clause's id and level, and which level keywords its body uses.  Clause
 * coverage and the check of each case's level both rest on it. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

static int level_by_word(const char *s, size_t n)
{
    if (n == 4 && memcmp(s, "MUST", 4) == 0) return LEVEL_MUST;
    if (n == 6 && memcmp(s, "SHOULD", 6) == 0) return LEVEL_SHOULD;
    if (n == 3 && memcmp(s, "MAY", 3) == 0) return LEVEL_MAY;
    return -1;
}

/* RFC 2119 keywords are upper-case whole words; "may" in prose is not one. */
static unsigned keywords(const char *line)
{
    unsigned says = 0;
    for (const char *s = line; *s;) {
        if (!isupper((unsigned char)*s)) {
            s++;
            continue;
        }
        const char *w = s;
        while (isupper((unsigned char)*s))
            s++;
        int before = w > line && isalnum((unsigned char)w[-1]);
        int l = level_by_word(w, (size_t)(s - w));
        if (l >= 0 && !before && !isalnum((unsigned char)*s))
            says |= 1u << l;
    }
    return says;
}

int spec_load(const char *path, spec_t *sp)
{
    memset(sp, 0, sizeof(*sp));
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -errno;
    char line[2048];
    spec_clause_t *cur = NULL;
    while (fgets(line, sizeof(line), f)) {
        char id[sizeof(cur->id)], level[16];
        if (strncmp(line, "#", 1) == 0)
            cur = NULL; /* any heading ends a clause's body */
        if (sscanf(line, "### %15s [%15[A-Z]]", id, level) == 2 &&
            level_by_word(level, strlen(level)) >= 0) {
            spec_clause_t *t = realloc(sp->v, (size_t)(sp->n + 1) * sizeof(*t));
            if (t == NULL) {
                fclose(f);
                spec_free(sp);
                return -ENOMEM;
            }
            sp->v = t;
            cur = &sp->v[sp->n++];
            memset(cur, 0, sizeof(*cur));
            memcpy(cur->id, id, sizeof(cur->id));
            cur->level = (level_t)level_by_word(level, strlen(level));
            cur->says = 1u << cur->level;
            continue;
        }
        /* The CPython departures describe what the clause rejects. */
        if (cur && strncmp(line, "Departs from CPython:", 21) != 0)
            cur->says |= keywords(line);
    }
    fclose(f);
    return 0;
}

const spec_clause_t *spec_find(const spec_t *sp, const char *id)
{
    for (int i = 0; i < sp->n; i++)
        if (strcmp(sp->v[i].id, id) == 0)
            return &sp->v[i];
    return NULL;
}

void spec_free(spec_t *sp)
{
    free(sp->v);
    sp->v = NULL;
    sp->n = 0;
}
