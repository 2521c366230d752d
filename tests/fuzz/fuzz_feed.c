/*
 * fuzz_feed — libFuzzer target for the XML feed path: the input is a fetched document
 * handed to feed_parse (sniffing, encoding choice, strict then recovering libxml2 parse,
 * RSS/RDF/Atom readers, HTML→text of every field, dates, ids), then rendered the way
 * `herald parse` does. Built and run by `make fuzz`; crashes land in build-fuzz/.
 */
#include "date.h"
#include "feed.h"

#include <libxml/parser.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    xmlInitParser();
    return 0;
}

/* The first line doubles as a date string: date_parse sees hostile text directly. */
static void fuzz_date(const uint8_t *data, size_t size)
{
    char line[128];
    size_t n = 0;
    while (n < size && n + 1 < sizeof line && data[n] != '\n')
        n++;
    memcpy(line, data, n);
    line[n] = '\0';
    char out[32];
    int64_t t = date_parse(line);
    if (t >= 0) date_format_utc(t, out, sizeof out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_date(data, size);
    /* Small caps so the item and depth limits are reached too. */
    struct feed_limits lim = {.max_bytes = 1u << 20, .max_items = 200, .max_depth = 64};
    struct feed *f = NULL;
    char err[256];
    if (feed_parse((const char *)data, size, "http://example.com/news/feed.xml", NULL, &lim, &f,
                   err, sizeof err) != 0)
        return 0;
    free(feed_to_json(f));
    free(feed_to_text(f));
    feed_free(f);
    return 0;
}
