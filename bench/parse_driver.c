/*
 * parse_driver — the herald side of bench/parse: reads the files named on the command
 * line into memory, then runs feed_parse on each of them N times, exactly as the daemon
 * does per fetched document (sniffing, encoding, libxml2 tree, dialect reader, HTML→text
 * of every field, dates, ids). Timing covers parsing only (files are read first).
 * Output, one line on stdout: "docs=D failed=F bytes=B items=I seconds=S".
 * Usage: parse_driver [-n N] FILE...
 */
#include "feed.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct doc {
    char *data;
    size_t len;
};

static int read_file(const char *path, struct doc *d)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += n;
        if (len < cap) continue;
        char *nb = realloc(buf, cap * 2);
        if (!nb) free(buf);
        buf = nb;
        cap *= 2;
    }
    fclose(fp);
    if (!buf) return -1;
    d->data = buf;
    d->len = len;
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int reps = 1, first = 1;
    if (argc > 2 && strcmp(argv[1], "-n") == 0) {
        reps = atoi(argv[2]);
        first = 3;
    }
    if (reps < 1 || first >= argc) {
        fprintf(stderr, "usage: parse_driver [-n N] FILE...\n");
        return 2;
    }
    size_t ndocs = (size_t)(argc - first);
    struct doc *docs = calloc(ndocs, sizeof *docs);
    if (!docs) return 1;
    for (size_t i = 0; i < ndocs; i++)
        if (read_file(argv[first + i], &docs[i]) != 0) {
            fprintf(stderr, "parse_driver: cannot read %s\n", argv[first + i]);
            return 1;
        }
    xmlInitParser();
    unsigned long long bytes = 0, items = 0, failed = 0;
    double t0 = now();
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < ndocs; i++) {
            struct feed *f = NULL;
            char err[256];
            bytes += docs[i].len;
            if (feed_parse(docs[i].data, docs[i].len, "https://bench.example/feed", NULL, NULL, &f,
                           err, sizeof err) != 0) {
                failed++;
                continue;
            }
            items += f->n_items;
            feed_free(f);
        }
    double secs = now() - t0;
    printf("docs=%zu failed=%llu bytes=%llu items=%llu seconds=%.6f\n", ndocs * (size_t)reps,
           failed, bytes, items, secs);
    for (size_t i = 0; i < ndocs; i++)
        free(docs[i].data);
    free(docs);
    return 0;
}
