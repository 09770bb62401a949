/* journal.c -- the journal's ring of recent lines and its file. */
#include "journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_journal {
    FILE *file;
    sim_buf *ring;    /* SIM_JOURNAL_RING lines; ring[seq % SIM_JOURNAL_RING]. A slot
                         keeps its buffer for the line that replaces it. */
    uint64_t seq;     /* last line written */
};

sim_journal *sim_journal_open(const char *path) {
    FILE *file = NULL;
    if (path && !(file = fopen(path, "w"))) return NULL;
    sim_journal *j = sim_xcalloc(1, sizeof(*j));
    j->file = file;
    j->ring = sim_xcalloc(SIM_JOURNAL_RING, sizeof(sim_buf));
    return j;
}

void sim_journal_free(sim_journal *j) {
    if (!j) return;
    if (j->file) fclose(j->file);
    for (size_t i = 0; i < SIM_JOURNAL_RING; i++) sim_buf_free(&j->ring[i]);
    free(j->ring);
    free(j);
}

void sim_journal_add(sim_journal *j, const char *line, size_t len) {
    j->seq++;
    sim_buf *slot = &j->ring[j->seq % SIM_JOURNAL_RING];
    /* The slot's buffer is kept when the line fits it without wasting more
     * than 64 bytes: no malloc per line, and a full ring costs what the
     * lines do. */
    if (slot->cap < len + 1 || slot->cap > len + 1 + 64) {
        free(slot->data);
        slot->cap = (len + 1 + 31) & ~(size_t)31;
        slot->data = sim_xmalloc(slot->cap);
    }
    memcpy(slot->data, line, len);
    slot->data[len] = '\0';
    slot->len = len;
    if (j->file) {
        fwrite(line, 1, len, j->file);
        fputc('\n', j->file);
    }
}

uint64_t sim_journal_count(const sim_journal *j) {
    return j->seq;
}

uint64_t sim_journal_oldest(const sim_journal *j) {
    return j->seq > SIM_JOURNAL_RING ? j->seq - SIM_JOURNAL_RING + 1 : 1;
}

size_t sim_journal_since(const sim_journal *j, uint64_t since, size_t limit, sim_buf *out) {
    if (since >= j->seq) return 0;   /* also: since + 1 below cannot wrap */
    uint64_t oldest = sim_journal_oldest(j);
    uint64_t seq = since + 1 > oldest ? since + 1 : oldest;
    size_t n = 0;
    for (; seq <= j->seq && n < limit; seq++, n++) {
        const sim_buf *l = &j->ring[seq % SIM_JOURNAL_RING];
        sim_buf_append(out, l->data, l->len);
        sim_buf_append(out, "\n", 1);
    }
    return n;
}

void sim_journal_flush(sim_journal *j) {
    if (j->file) fflush(j->file);
}
