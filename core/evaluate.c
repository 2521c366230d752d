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

int rules_evaluate(struct config *cfg, const struct herald_article *a, const struct logger *lg,
                   on_fire_fn on_fire, void *arg)
{
    struct doc_fields f = {.title = a->title,
                           .text = a->text,
                           .author = a->author,
                           .link = a->link,
                           .source = a->source,
                           .lang = a->lang};
    struct doc *d = doc_new(&f);
    if (!d) return -1;
    const size_t *cand = NULL;
    long n = rule_index_candidates(cfg->index, d, &cand);
    if (n < 0) {
        doc_free(d);
        return -1;
    }
    int fired = 0;
    struct evidence_list ev = {0};
    for (long i = 0; i < n; i++) {
        struct cfg_rule *r = &cfg->rules[cand[i]];
        if (r->disabled || r->paused) continue;
        ev.n = 0;
        if (r->query) {
            int m = query_match(r->query, d, &ev);
            if (m < 0) {
                fired = -1;
                break;
            }
            if (m == 0) continue;
        }
        if (r->match_ref != LUA_NOREF && r->match_ref != LUA_REFNIL) {
            if (run_match(cfg, r, a, d, &ev, lg) != 1) continue;
        }
        r->hits++;
        if (on_fire(arg, r, &ev) != 0) {
            fired = -1;
            break;
        }
        fired++;
    }
    evidence_list_free(&ev);
    doc_free(d);
    /* Evidence of a:has() calls points into the state's query cache; every alert of this
     * article has been stored by now, so the cache may be trimmed. */
    lua_article_cache_trim(sandbox_state(cfg->sb));
    return fired;
}
