/* journal.h -- the journal: one JSON line per crossing and rule firing, kept
 * in a ring for the control API and written to a file when one is named.
 * Lines are numbered from 1 in the order written.
 *
 * A crossing is kept as its values and made into its line only when the
 * line is read or written to the file: nearly every line of a busy run is
 * never read, and formatting was a fifth of a golden-path run's cost
 * (issue 11). Read back, a line is the same bytes either way. */
#ifndef SIM_JOURNAL_H
#define SIM_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"
#include "wire.h"

/* Lines kept in memory. A fuzz harness that pages the journal builds with a
 * small ring (-DSIM_JOURNAL_RING=N), so a whole page stays cheap. */
#ifndef SIM_JOURNAL_RING
#define SIM_JOURNAL_RING 65536
#endif

typedef struct sim_journal sim_journal;

/* path NULL: memory only. NULL when the file cannot be opened. */
sim_journal *sim_journal_open(const char *path);
/* Flushes and closes the file, frees the ring. */
void sim_journal_free(sim_journal *j);

/* Adds one line (len bytes, no newline; copied). */
void sim_journal_add(sim_journal *j, const char *line, size_t len);
/* Adds the line of a crossing at t_ms (since the start) and the action the
 * engine gave it (its rule, if one fired; its latency). The strings are
 * copied. */
void sim_journal_add_crossing(sim_journal *j, int64_t t_ms, const sim_wire *w,
                              const sim_action *a);
/* The last line's number: how many were written. */
uint64_t sim_journal_count(const sim_journal *j);
/* The oldest line still in memory. */
uint64_t sim_journal_oldest(const sim_journal *j);
/* Appends the lines numbered above `since`, oldest first, at most `limit`,
 * each with its newline, to out. Returns how many it appended. */
size_t sim_journal_since(const sim_journal *j, uint64_t since, size_t limit, sim_buf *out);
void sim_journal_flush(sim_journal *j);

#endif
