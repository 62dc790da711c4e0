/* opts.h: the command line (opts.c), which fills g_run.o. */
#ifndef STRESS_OPTS_H
#define STRESS_OPTS_H

#include "run.h"

/* Fills g_run.o from argv; a usage error, --help and the like exit. */
void opts_parse(int argc, char **argv);
/* Checks the options against g_run.impl, and picks the default backend. */
void opts_check_impl(void);
/* Sets g_run.repro, the command that repeats this run's workload. */
void opts_make_repro(const char *argv0);
/* --kinds' form of a set of KIND_ bits. */
const char *kinds_str(unsigned k);

#endif /* STRESS_OPTS_H */
