/* fds.h: the fd-leak check (fds.c). */
#ifndef STRESS_FDS_H
#define STRESS_FDS_H

#include "run.h"

/* Remembers the open fds (and what the first of them are); their count. */
int fds_before(void);
/* The count of open fds now; a set that differs from fds_before's is a
 * violation. */
int fds_after(int nbefore);

#endif /* STRESS_FDS_H */
