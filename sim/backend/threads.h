/* threads.h -- who owns which thread, pure. A thread belongs to whoever
 * used it first (created it, or chatted in it); its history is theirs: the
 * history and validate routes answer 404 to anyone else, and a chat naming
 * another user's thread is refused. Connections without a token are the
 * scenario's demo user, who owns threads like anyone: theirs, not alice's. */
#ifndef SIM_THREADS_H
#define SIM_THREADS_H
#ifndef SIM_IN_BACKEND
#error "threads.h is private to sim/backend/"
#endif

#include <stddef.h>

typedef struct sim_threads sim_threads;

sim_threads *sim_threads_new(void);
void sim_threads_free(sim_threads *t);

/* The owner of thread_id, or NULL when nobody used it yet. Borrowed. */
const char *sim_threads_owner(const sim_threads *t, const char *thread_id);
/* Takes thread_id for owner when it is free; 0 when owner has it now (or
 * had it), -1 when it is someone else's. */
int sim_threads_claim(sim_threads *t, const char *thread_id, const char *owner);

#endif
