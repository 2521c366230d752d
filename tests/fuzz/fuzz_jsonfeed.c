/*
 * fuzz_jsonfeed — libFuzzer target for JSON Feed 1.0/1.1: every input reaches the JSON
 * reader of feed_parse (a '{' is put in front of inputs that do not already start an
 * object or array, so the sniffer never sends them elsewhere), and a parsed feed is
 * rendered as `herald parse --json` would. Built and run by `make fuzz`.
 */
#include "feed.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int starts_json(const uint8_t *data, size_t size)
{
    size_t i = 0;
    if (size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
        i++;
    return i < size && (data[i] == '{' || data[i] == '[');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    size_t n = 0;
    if (!starts_json(data, size)) buf[n++] = '{';
    if (size) memcpy(buf + n, data, size);
    n += size;
    struct feed_limits lim = {.max_bytes = 1u << 20, .max_items = 200, .max_depth = 64};
    struct feed *f = NULL;
    char err[256];
    if (feed_parse(buf, n, "https://example.org/feed.json", "application/feed+json", &lim, &f, err,
                   sizeof err) == 0) {
        free(feed_to_json(f));
        free(feed_to_text(f));
        feed_free(f);
    }
    free(buf);
    return 0;
}
