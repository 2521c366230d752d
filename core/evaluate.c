/*
 * evaluate — the per-article rule loop. Queries run first because they are cheap and
 * indexed; a rule's Lua `match` function runs only after its query (if any) passed, under
 * the rule's instruction budget. A rule that keeps failing is disabled rather than allowed
 * to flood the log, and the others keep running.
 */
#include "evaluate.h"

#include "lua_article.h"
#include "sandbox.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_RULE_FAILURES = 5 };

static const char *field_or_empty(const char *s)
{
    return s ? s : "";
}

void article_from_item(struct herald_article *a, const char *source, const char *lang,
                       const struct feed *f, const struct item *it)
{
    memset(a, 0, sizeof *a);
    a->struct_size = sizeof *a;
    a->id = it->id;
    a->source = source;
    a->title = it->title;
    a->link = it->link;
    a->author = it->author;
    a->summary = it->summary;
    a->text = item_text(it);
    a->published = it->published;
    a->categories = it->categories;
    a->n_categories = it->n_categories;
    /* The user's word about a source's language beats what the feed claims. */
    a->lang = lang ? lang : it->lang ? it->lang : f->language;
}

/* Run the rule's Lua match function; 1 fired, 0 not, -1 failed (already logged). */
static int run_match(struct config *cfg, struct cfg_rule *r, const struct herald_article *a,
                     struct doc *d, struct evidence_list *ev, const struct logger *lg)
{
    lua_State *L = sandbox_state(cfg->sb);
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->match_ref);
    struct query_options qo = {.lang = r->lang, .stem = r->stem};
    if (lua_article_push(L, a, d, cfg->concepts, &qo, ev) != 0) {
        lua_settop(L, top);
        return -1;
    }
    int art_idx = lua_gettop(L);
    lua_pushvalue(L, art_idx); /* keep a reference to expire it afterwards */
    lua_insert(L, top + 1);
    int rc = sandbox_pcall(cfg->sb, 1, 1, r->budget);
    int fired = -1;
    if (rc == LUA_OK) {
        fired = lua_toboolean(L, -1) ? 1 : 0;
        r->failures = 0;
    } else {
        r->failures++;
        const char *msg = lua_tostring(L, -1);
        log_msg(lg, HERALD_LOG_WARN, "rule %s (%s:%d): %s; skipped for \"%s\"%s", r->name, r->file,
                r->line, msg ? msg : "error", field_or_empty(a->title),
                r->failures >= MAX_RULE_FAILURES ? "; disabled after repeated failures" : "");
        if (r->failures >= MAX_RULE_FAILURES) r->disabled = 1;
    }
    lua_article_expire(L, top + 1);
    lua_settop(L, top);
    return fired;
}

void article_doc_fields(const struct herald_article *a, struct doc_fields *out)
{
    *out = (struct doc_fields){.title = a->title,
                               .text = a->text,
                               .author = a->author,
                               .link = a->link,
                               .source = a->source,
                               .lang = a->lang};
}

static int hit_push(struct rule_hits *h, uint32_t rule, uint32_t ev_first, uint32_t ev_n)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        struct rule_hit *v = realloc(h->v, cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = (struct rule_hit){rule, ev_first, ev_n};
    return 0;
}

int rules_prematch(const struct config *cfg, struct index_scratch *sc, struct doc *d,
                   struct rule_hits *out)
{
    const size_t *cand = NULL;
    long n = rule_index_candidates_in(cfg->index, sc, d, &cand);
    int rc = n < 0 ? -1 : 0;
    for (long i = 0; rc == 0 && i < n; i++) {
        const struct cfg_rule *r = &cfg->rules[cand[i]];
        size_t before = out->ev.n;
        if (r->query) {
            int m = query_match(r->query, d, &out->ev);
            if (m < 0) rc = -1;
            if (m <= 0) continue;
        }
        rc = hit_push(out, (uint32_t)cand[i], (uint32_t)before, (uint32_t)(out->ev.n - before));
    }
    return rc;
}

void rule_hits_free(struct rule_hits *h)
{
    free(h->v);
    evidence_list_free(&h->ev);
    memset(h, 0, sizeof *h);
}

/* The hit's evidence as a list of its own (a Lua match may append to it). */
static int hit_evidence(const struct rule_hit *hit, const struct evidence_list *all,
                        struct evidence_list *ev)
{
    ev->n = 0;
    for (uint32_t k = 0; k < hit->ev_n; k++)
        if (evidence_push(ev, &all->v[hit->ev_first + k]) != 0) return -1;
    return 0;
}

int rules_fire(struct config *cfg, const struct herald_article *a, struct doc *d,
               const struct rule_hit *hits, size_t n, const struct evidence_list *all,
               const struct logger *lg, on_fire_fn on_fire, void *arg)
{
    struct doc *own = NULL;
    struct evidence_list ev = {0};
    int fired = 0;
    for (size_t i = 0; i < n && fired >= 0; i++) {
        struct cfg_rule *r = &cfg->rules[hits[i].rule];
        if (r->disabled || r->paused) continue;
        if (hit_evidence(&hits[i], all, &ev) != 0) {
            fired = -1;
            break;
        }
        if (r->match_ref != LUA_NOREF && r->match_ref != LUA_REFNIL) {
            if (!d) {
                struct doc_fields f;
                article_doc_fields(a, &f);
                d = own = doc_new(&f);
                if (!d) {
                    fired = -1;
                    break;
                }
            }
            if (run_match(cfg, r, a, d, &ev, lg) != 1) continue;
        }
        r->hits++;
        if (on_fire(arg, r, &ev) != 0) fired = -1;
        if (fired >= 0) fired++;
    }
    evidence_list_free(&ev);
    doc_free(own);
    /* Evidence of a:has() calls points into the state's query cache; every alert of this
     * article has been stored by now, so the cache may be trimmed. */
    lua_article_cache_trim(sandbox_state(cfg->sb));
    return fired;
}

int rules_evaluate(struct config *cfg, const struct herald_article *a, const struct logger *lg,
                   on_fire_fn on_fire, void *arg)
{
    struct doc_fields f;
    article_doc_fields(a, &f);
    /* The doc's stems point into the scratch's caches: it goes back after the doc. */
    struct index_scratch *sc = rule_index_scratch_take(cfg->index);
    struct doc *d = sc ? doc_new(&f) : NULL;
    struct rule_hits hits = {0};
    int fired = d ? rules_prematch(cfg, sc, d, &hits) : -1;
    if (fired == 0) fired = rules_fire(cfg, a, d, hits.v, hits.n, &hits.ev, lg, on_fire, arg);
    rule_hits_free(&hits);
    doc_free(d);
    rule_index_scratch_put(cfg->index, sc);
    return fired;
}
