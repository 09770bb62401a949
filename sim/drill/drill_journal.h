/* drill_journal.h -- the journal a drill judges: its lines parsed, and the
 * replay digest over them in canonical form (docs/drills.md §7). Pure. */
#ifndef SIM_DRILL_JOURNAL_H
#define SIM_DRILL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct cJSON cJSON;

/* Lines in journal order, each a JSON object. */
typedef struct sim_drill_journal {
    cJSON **lines;
    size_t n, cap;
} sim_drill_journal;

/* Adds every line of text (JSON objects, one per line; blank lines skipped)
 * at the end. 0, or -1 with "journal line N: not a JSON object" in err. */
int sim_drill_journal_parse(sim_drill_journal *j, const char *text, char *err, size_t errlen);
/* Inserts one line after the last line whose t_ms is not greater than its
 * own (the drill's breaker lines among the simulator's). 0 or -1. */
int sim_drill_journal_insert_by_time(sim_drill_journal *j, const char *line);
void sim_drill_journal_free(sim_drill_journal *j);

#define SIM_DRILL_HEX 65   /* a SHA-256 in hex, with its NUL */

/* The canonical lines in canonical order and the chain of digests over
 * them: chain[i] = sha256(chain[i-1] || lines[i]) in hex, chain[-1] being
 * 32 zero bytes; final is the last (that of no line when there is none). */
typedef struct sim_drill_digest {
    char **lines;
    char (*chain)[SIM_DRILL_HEX];
    size_t n;
    char final[SIM_DRILL_HEX];
} sim_drill_digest;

void sim_drill_digest_compute(const sim_drill_journal *j, sim_drill_digest *d);
void sim_drill_digest_free(sim_drill_digest *d);

/* The index of the first canonical line whose digest is not expected[i]
 * (or that is missing or extra), or -1 when the chains are equal. */
long sim_drill_digest_first_difference(const sim_drill_digest *d, char (*expected)[SIM_DRILL_HEX],
                                       size_t nexpected);

#endif
