/* ending.h: a channel's endings (ending.c). */
#ifndef STRESS_ENDING_H
#define STRESS_ENDING_H

#include "chan.h"

/* Starts ending e now; its deadline is a grace from now. */
void start_ending(chan_t *c, int e);
/* One pass of c's ending, or the start of it once it is due. */
void ending_step(chan_t *c);
/* Both sides closed as the ending expects: the slot can be reaped. */
int chan_finished(const chan_t *c);
/* c's progress, for a message about an ending that did not complete. */
const char *chan_state(const chan_t *c);

#endif /* STRESS_ENDING_H */
