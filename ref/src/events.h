/* events.h: what each kind of readiness does to a dispatcher (asyncore's
 * handle_*_event methods), and the one place that decides a peer is gone. */
#ifndef ACHAT_EVENTS_H
#define ACHAT_EVENTS_H

#include "handle.h"

void ac__read_event(ac_disp_t *d);
void ac__write_event(ac_disp_t *d);
void ac__expt_event(ac_disp_t *d);
void ac__close_event(ac_disp_t *d);
void ac__error_event(ac_disp_t *d, int err);
/* A recv gave end of stream (err 0) or a send/recv failed with -err: if
 * that means the peer is gone, the close event runs and 1 is returned. */
int ac__peer_gone(ac_disp_t *d, int err);

#endif /* ACHAT_EVENTS_H */
