/*
 * query — the parser of the rule query language and the concept sets. Input: query strings
 * from rules and Lua a:has() calls, concept forms from herald.concept; output: a compiled
 * tree (query_impl.h) that match.c evaluates and index.c mines for required terms. The
 * grammar is in docs/rules.md; precedence from loosest to tightest: OR, AND (also implicit
 * between adjacent operands), NOT / leading '-', NEAR/n, then field scopes and operands.
 * Concepts are expanded into OR groups at compile time, so a compiled query does not
 * refer to its concept set afterwards. Words are folded and stemmed here once.
 */
#include "query_impl.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { QUERY_MAX_LEN = 65536, QUERY_MAX_DEPTH = 64, PHRASE_MAX_WORDS = 64, NEAR_MAX = 1000 };

static const char *const field_names[QF_COUNT] = {"title", "text", "author", "link", "source"};

const char *qfield_name(int f)
{
    return f >= 0 && f < QF_COUNT ? field_names[f] : "?";
}

uint32_t qhash_more(uint32_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

uint32_t qhash(const char *s, size_t n)
{
    return qhash_more(QHASH_START, s, n);
}

uint64_t qchar_mask(const char *s, size_t n)
{
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++)
        m |= 1ull << ((unsigned char)s[i] & 63);
    return m;
}

int qnode_positional(const struct qnode *n)
{
    switch (n->kind) {
    case QN_SEQ:
    case QN_NEAR:
        return 1;
    case QN_OR:
        for (size_t i = 0; i < n->nkids; i++)
            if (!qnode_positional(n->kids[i])) return 0;
        return 1;
    default:
        return 0;
    }
}

/* ---- concepts ---- */

struct concept {
    const char *name;
    const char **forms;
    size_t n;
};

struct concepts {
    struct arena arena;
    struct concept *v;
    size_t n, cap;
};

struct concepts *concepts_new(void)
{
    struct concepts *c = calloc(1, sizeof *c);
    if (c) arena_init(&c->arena);
    return c;
}

void concepts_free(struct concepts *c)
{
    if (!c) return;
    arena_free(&c->arena);
    free(c->v);
    free(c);
}

static const struct concept *concept_find(const struct concepts *c, const char *name, size_t n)
{
    if (!c) return NULL;
    for (size_t i = 0; i < c->n; i++)
        if (strlen(c->v[i].name) == n && !memcmp(c->v[i].name, name, n)) return &c->v[i];
    return NULL;
}

static void set_err(struct query_error *err, int col, const char *fmt, const char *arg)
{
    if (!err) return;
    err->col = col;
    snprintf(err->msg, sizeof err->msg, fmt, arg ? arg : "");
}

static int valid_concept_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return 0;
    }
    return 1;
}

static int form_check(const char *form, struct query_error *err);

int concepts_add(struct concepts *c, const char *name, const char *const *forms, size_t n,
                 struct query_error *err)
{
    if (!name || !valid_concept_name(name)) {
        set_err(err, 0, "bad concept name '%s' (letters, digits, '_', '-', '.')", name);
        return -1;
    }
    if (concept_find(c, name, strlen(name))) {
        set_err(err, 0, "concept @%s is already defined", name);
        return -1;
    }
    if (n == 0) {
        set_err(err, 0, "concept @%s has no forms", name);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct query_error fe;
        if (!forms[i] || form_check(forms[i], &fe) < 0) {
            if (err) {
                err->col = 0;
                snprintf(err->msg, sizeof err->msg, "concept @%.40s, form %d (\"%.60s\"): %.100s",
                         name, (int)(i + 1), forms[i] ? forms[i] : "nil",
                         forms[i] ? fe.msg : "nil");
            }
            return -1;
        }
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct concept *v = realloc(c->v, cap * sizeof *v);
        if (!v) goto oom;
        c->v = v;
        c->cap = cap;
    }
    struct concept *k = &c->v[c->n];
    k->name = arena_strdup(&c->arena, name);
    k->forms = arena_alloc(&c->arena, n * sizeof *k->forms);
    if (!k->name || !k->forms) goto oom;
    for (size_t i = 0; i < n; i++)
        if (!(k->forms[i] = arena_strdup(&c->arena, forms[i]))) goto oom;
    k->n = n;
    c->n++;
    return 0;
oom:
    set_err(err, 0, "out of memory", NULL);
    return -1;
}

/* ---- lexer ---- */

enum tk {
    T_EOF,
    T_LP,
    T_RP,
    T_AND,
    T_OR,
    T_NOT,
    T_NEAR,
    T_MINUS,
    T_TERM,
    T_PHRASE,
    T_REGEX,
    T_CONCEPT,
    T_FIELD,
    T_ERR
};

struct tok {
    enum tk t;
    size_t start, end; /* the token's bytes in the source */
    int num;           /* NEAR distance; phrase slop (-1 none); field number */
};

struct parser {
    const char *s;
    size_t len, i;
    struct query *q;
    const struct concepts *c;
    struct text_stemmer *stemmer;
    int stem;
    int depth;
    int in_form;           /* parsing a concept form: no @concepts inside */
    const char *form_term; /* the form as written, used as every leaf's term */
    int form_col;          /* column of the @name the form came from */
    struct query_error *err;
};

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static int ends_bare(char ch)
{
    return is_space(ch) || ch == '(' || ch == ')' || ch == '"';
}

static int col_of(const struct parser *p, size_t i)
{
    if (p->in_form) return p->form_col;
    return (int)text_utf8_len(p->s, i) + 1;
}

static void perr(struct parser *p, size_t at, const char *fmt, const char *arg)
{
    if (p->err->msg[0]) return; /* keep the first error */
    char msg[200];
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
    p->err->col = col_of(p, at);
    if (p->in_form && p->form_col > 0)
        snprintf(p->err->msg, sizeof p->err->msg, "in concept form \"%.40s\": %.190s", p->form_term,
                 msg);
    else
        snprintf(p->err->msg, sizeof p->err->msg, "%s", msg);
}

static size_t skip_space(const struct parser *p, size_t i)
{
    while (i < p->len && is_space(p->s[i]))
        i++;
    return i;
}

static int lex_phrase(struct parser *p, size_t i, struct tok *t)
{
    size_t j = i + 1;
    while (j < p->len && p->s[j] != '"')
        j++;
    if (j >= p->len) {
        perr(p, i, "unterminated phrase", NULL);
        t->t = T_ERR;
        return -1;
    }
    j++;
    t->t = T_PHRASE;
    t->num = -1;
    if (j < p->len && p->s[j] == '~') {
        size_t k = j + 1;
        int n = 0;
        while (k < p->len && p->s[k] >= '0' && p->s[k] <= '9' && n <= NEAR_MAX)
            n = n * 10 + (p->s[k++] - '0');
        if (n > NEAR_MAX) {
            perr(p, j, "phrase slop must be at most 1000", NULL);
            t->t = T_ERR;
            return -1;
        }
        t->num = k == j + 1 ? 1 : n;
        j = k;
    }
    t->end = j;
    return 0;
}

static int lex_regex(struct parser *p, size_t i, struct tok *t)
{
    size_t j = i + 1;
    while (j < p->len && p->s[j] != '/') {
        if (p->s[j] == '\\' && j + 1 < p->len) j++;
        j++;
    }
    if (j >= p->len) {
        perr(p, i, "unterminated regex", NULL);
        t->t = T_ERR;
        return -1;
    }
    j++;
    while (j < p->len && !ends_bare(p->s[j]))
        j++;
    t->t = T_REGEX;
    t->end = j;
    return 0;
}

static int field_at(const struct parser *p, size_t i)
{
    for (int f = 0; f < QF_COUNT; f++) {
        size_t n = strlen(field_names[f]);
        if (i + n < p->len && !memcmp(p->s + i, field_names[f], n) && p->s[i + n] == ':') return f;
    }
    return -1;
}

static int word_is(const struct parser *p, size_t i, size_t j, const char *w)
{
    return j - i == strlen(w) && !memcmp(p->s + i, w, j - i);
}

/* The token at p->i, without consuming it. */
static int lex(struct parser *p, struct tok *t)
{
    size_t i = skip_space(p, p->i);
    t->start = i;
    t->num = 0;
    if (i >= p->len) {
        t->t = T_EOF;
        t->end = i;
        return 0;
    }
    char ch = p->s[i];
    t->end = i + 1;
    if (ch == '(') return t->t = T_LP, 0;
    if (ch == ')') return t->t = T_RP, 0;
    if (ch == '"') return lex_phrase(p, i, t);
    if (ch == '=' && i + 1 < p->len && p->s[i + 1] == '"') {
        int rc = lex_phrase(p, i + 1, t);
        t->start = i;
        return rc;
    }
    if (ch == '/') return lex_regex(p, i, t);
    if (ch == '-' && i + 1 < p->len && !is_space(p->s[i + 1]) && p->s[i + 1] != ')')
        return t->t = T_MINUS, 0;
    int f = field_at(p, i);
    if (f >= 0) {
        t->t = T_FIELD;
        t->num = f;
        t->end = i + strlen(field_names[f]) + 1;
        return 0;
    }
    size_t j = i;
    while (j < p->len && !ends_bare(p->s[j]))
        j++;
    t->end = j;
    if (ch == '@') return t->t = T_CONCEPT, 0;
    if (word_is(p, i, j, "AND")) return t->t = T_AND, 0;
    if (word_is(p, i, j, "OR")) return t->t = T_OR, 0;
    if (word_is(p, i, j, "NOT")) return t->t = T_NOT, 0;
    if (word_is(p, i, j, "NEAR") || (j - i > 4 && !memcmp(p->s + i, "NEAR/", 5))) {
        size_t k = i + 5;
        int n = 0;
        while (k < j && p->s[k] >= '0' && p->s[k] <= '9' && n <= NEAR_MAX)
            n = n * 10 + (p->s[k++] - '0');
        if (j - i <= 5 || k != j) {
            perr(p, i, "NEAR needs a number: NEAR/5", NULL);
            return t->t = T_ERR, -1;
        }
        if (n < 1 || n > NEAR_MAX) {
            perr(p, i, "NEAR distance must be between 1 and 1000", NULL);
            return t->t = T_ERR, -1;
        }
        t->num = n;
        return t->t = T_NEAR, 0;
    }
    return t->t = T_TERM, 0;
}

static void consume(struct parser *p, const struct tok *t)
{
    p->i = t->end;
}

/* ---- node construction ---- */

static struct qnode *node_new(struct parser *p, enum qnode_kind k, size_t at)
{
    struct qnode *n = arena_alloc(&p->q->arena, sizeof *n);
    if (!n) {
        perr(p, at, "out of memory", NULL);
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->kind = k;
    n->col = col_of(p, at);
    n->slop = -1;
    return n;
}

static struct qnode *node_pair(struct parser *p, enum qnode_kind k, struct qnode *a,
                               struct qnode *b, size_t at)
{
    /* flatten a chain of the same operator into one node */
    if (a->kind == k && k != QN_NEAR) {
        struct qnode **kids = arena_alloc(&p->q->arena, (a->nkids + 1) * sizeof *kids);
        if (!kids) return perr(p, at, "out of memory", NULL), NULL;
        memcpy(kids, a->kids, a->nkids * sizeof *kids);
        kids[a->nkids] = b;
        a->kids = kids;
        a->nkids++;
        return a;
    }
    struct qnode *n = node_new(p, k, at);
    if (!n) return NULL;
    n->kids = arena_alloc(&p->q->arena, 2 * sizeof *n->kids);
    if (!n->kids) return perr(p, at, "out of memory", NULL), NULL;
    n->kids[0] = a;
    n->kids[1] = b;
    n->nkids = 2;
    n->col = a->col;
    return n;
}

struct wordlist {
    struct text_token t[PHRASE_MAX_WORDS];
    char buf[PHRASE_MAX_WORDS][TEXT_WORD_MAX + 1];
    size_t n;
    int overflow;
};

static int on_word(void *arg, const struct text_token *t)
{
    struct wordlist *w = arg;
    if (w->n == PHRASE_MAX_WORDS) {
        w->overflow = 1;
        return 1;
    }
    memcpy(w->buf[w->n], t->folded, t->folded_len + 1);
    w->t[w->n] = *t;
    w->t[w->n].folded = w->buf[w->n];
    w->n++;
    return 0;
}

struct wordspec {
    int exact, prefix_last, fuzzy; /* fuzzy: edit distance, 0 none */
    int per_word_prefix;           /* phrases: a '*' right after a word makes it a prefix */
};

static int fill_word(struct parser *p, struct qword *w, const struct text_token *t, int prefix,
                     const struct wordspec *ws, size_t at)
{
    char *f = arena_strndup(&p->q->arena, t->folded, t->folded_len);
    if (!f) return perr(p, at, "out of memory", NULL), -1;
    w->folded = f;
    w->flen = t->folded_len;
    w->ncp = text_utf8_len(f, w->flen);
    w->fhash = qhash(f, w->flen);
    w->cmask = qchar_mask(f, w->flen);
    if (prefix) {
        if (w->ncp < 2) {
            perr(p, at, "wildcard needs at least 2 characters before '*'", NULL);
            return -1;
        }
        w->kind = QW_PREFIX;
        return 0;
    }
    if (ws->fuzzy && w->ncp >= 4) {
        w->kind = QW_FUZZY;
        w->dist = ws->fuzzy;
        return 0;
    }
    if (ws->exact || !p->stem || !p->stemmer) {
        w->kind = QW_EXACT;
        return 0;
    }
    size_t sl;
    const char *st = text_stem(p->stemmer, f, w->flen, &sl);
    w->stem = arena_strndup(&p->q->arena, st, sl);
    if (!w->stem) return perr(p, at, "out of memory", NULL), -1;
    w->slen = sl;
    w->shash = qhash(w->stem, sl);
    w->kind = QW_STEM;
    return 0;
}

/* A term or phrase leaf from the words of body[0..n) (source offset `at` for errors). */
static struct qnode *make_seq(struct parser *p, const char *body, size_t n, size_t at,
                              const struct wordspec *ws, int slop, unsigned fields,
                              const char *term, size_t term_len)
{
    struct wordlist *wl = malloc(sizeof *wl);
    if (!wl) return perr(p, at, "out of memory", NULL), NULL;
    wl->n = 0;
    wl->overflow = 0;
    text_tokenize(body, n, on_word, wl);
    struct qnode *node = NULL;
    if (wl->overflow) {
        perr(p, at, "phrase too long (at most 64 words)", NULL);
        goto out;
    }
    if (wl->n == 0) {
        perr(p, at, "term has no letters or digits", NULL);
        goto out;
    }
    node = node_new(p, QN_SEQ, at);
    if (!node) goto out;
    node->fields = fields;
    node->slop = wl->n > 1 ? slop : -1;
    node->nwords = wl->n;
    node->words = arena_alloc(&p->q->arena, wl->n * sizeof *node->words);
    node->term = p->form_term ? p->form_term : arena_strndup(&p->q->arena, term, term_len);
    if (!node->words || !node->term) {
        perr(p, at, "out of memory", NULL);
        node = NULL;
        goto out;
    }
    memset(node->words, 0, wl->n * sizeof *node->words);
    for (size_t k = 0; k < wl->n; k++) {
        const struct text_token *t = &wl->t[k];
        int prefix = ws->per_word_prefix ? (t->end < n && body[t->end] == '*')
                                         : (ws->prefix_last && k == wl->n - 1);
        if (fill_word(p, &node->words[k], t, prefix, ws, at) < 0) {
            node = NULL;
            goto out;
        }
    }
out:
    free(wl);
    return node;
}

static struct qnode *parse_term(struct parser *p, const struct tok *t, unsigned fields)
{
    const char *s = p->s + t->start;
    size_t n = t->end - t->start;
    struct wordspec ws = {0, 0, 0, 0};
    size_t b = 0, e = n;
    if (s[0] == '=') {
        ws.exact = 1;
        b = 1;
    }
    /* trailing ~n: fuzzy */
    size_t k = e;
    while (k > b && s[k - 1] >= '0' && s[k - 1] <= '9')
        k--;
    if (k > b && s[k - 1] == '~') {
        if (e - k > 1 || (e > k && s[k] > '2')) {
            perr(p, t->start + k - 1, "fuzzy distance must be 0, 1 or 2", NULL);
            return NULL;
        }
        ws.fuzzy = e == k ? 1 : s[k] - '0';
        e = k - 1;
    }
    if (e > b && s[e - 1] == '*') {
        ws.prefix_last = 1;
        e--;
        if (ws.fuzzy) {
            perr(p, t->start, "a term cannot be both a wildcard and fuzzy", NULL);
            return NULL;
        }
    }
    const char *star = memchr(s + b, '*', e - b);
    if (star) {
        perr(p, t->start + (size_t)(star - s), "'*' is only allowed at the end of a term", NULL);
        return NULL;
    }
    if (ws.prefix_last && e > b) {
        /* "foo-*" would put the wildcard on nothing */
        char last = s[e - 1];
        if (is_space(last) || last == '-' || last == '.' || last == '\'') {
            perr(p, t->start, "wildcard needs at least 2 characters before '*'", NULL);
            return NULL;
        }
    }
    if (ws.exact) ws.fuzzy = 0;
    return make_seq(p, s + b, e - b, t->start, &ws, -1, fields, s, n);
}

static struct qnode *parse_phrase(struct parser *p, const struct tok *t, unsigned fields)
{
    const char *s = p->s + t->start;
    struct wordspec ws = {0, 0, 0, 1};
    size_t open = 0;
    if (s[0] == '=') {
        ws.exact = 1;
        open = 1;
    }
    const char *body = s + open + 1;
    const char *close = memchr(body, '"', (size_t)(p->s + t->end - body));
    return make_seq(p, body, (size_t)(close - body), t->start, &ws, t->num, fields, s,
                    t->end - t->start);
}

static struct qnode *parse_regex(struct parser *p, const struct tok *t, unsigned fields)
{
    const char *s = p->s + t->start;
    size_t n = t->end - t->start;
    size_t close = n - 1;
    while (s[close] != '/')
        close--;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
    for (size_t k = close + 1; k < n; k++) {
        char fl[2] = {s[k], 0};
        switch (s[k]) {
        case 'i':
            opts |= PCRE2_CASELESS;
            break;
        case 'm':
            opts |= PCRE2_MULTILINE;
            break;
        case 's':
            opts |= PCRE2_DOTALL;
            break;
        case 'x':
            opts |= PCRE2_EXTENDED;
            break;
        default:
            perr(p, t->start + k, "unknown regex flag '%s' (use i, m, s, x)", fl);
            return NULL;
        }
    }
    if (close == 1) {
        perr(p, t->start, "empty regex", NULL);
        return NULL;
    }
    int ec;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(s + 1), close - 1, opts, &ec, &off, NULL);
    if (!re) {
        char m[160];
        pcre2_get_error_message(ec, (PCRE2_UCHAR *)m, sizeof m);
        perr(p, t->start + 1 + off, "regex: %s", m);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: falls back to the interpreter */
    struct qregex *r = arena_alloc(&p->q->arena, sizeof *r);
    struct qnode *node = r ? node_new(p, QN_REGEX, t->start) : NULL;
    const char *term = p->form_term ? p->form_term : arena_strndup(&p->q->arena, s, n);
    if (!r || !node || !term) {
        pcre2_code_free(re);
        return perr(p, t->start, "out of memory", NULL), NULL;
    }
    r->re = re;
    r->next = p->q->regexes;
    p->q->regexes = r;
    node->re = re;
    node->fields = fields;
    node->term = term;
    return node;
}

static struct qnode *parse_or(struct parser *p, unsigned fields);

static struct qnode *parse_form(struct parser *p, const char *form, unsigned fields, int col)
{
    struct parser sub = *p;
    char *buf = NULL;
    size_t n = strlen(form);
    /* an unquoted form with spaces is a phrase ("pull out") */
    if (!memchr(form, '"', n) && (memchr(form, ' ', n) || memchr(form, '\t', n))) {
        buf = malloc(n + 3);
        if (!buf) return perr(p, 0, "out of memory", NULL), NULL;
        buf[0] = '"';
        memcpy(buf + 1, form, n);
        buf[n + 1] = '"';
        buf[n + 2] = '\0';
        n += 2;
    }
    sub.s = buf ? buf : form;
    sub.len = n;
    sub.i = 0;
    sub.in_form = 1;
    sub.form_term = form;
    sub.form_col = col;
    struct qnode *node = parse_or(&sub, fields);
    struct tok t;
    if (node && lex(&sub, &t) == 0 && t.t != T_EOF) {
        perr(&sub, t.start, "unexpected text after the form", NULL);
        node = NULL;
    }
    if (node && !qnode_positional(node)) {
        perr(&sub, 0, "a form must be a term, phrase or wildcard", NULL);
        node = NULL;
    }
    free(buf);
    return node;
}

static struct qnode *parse_concept(struct parser *p, const struct tok *t, unsigned fields)
{
    const char *name = p->s + t->start + 1;
    size_t n = t->end - t->start - 1;
    char shown[80];
    snprintf(shown, sizeof shown, "%.*s", (int)(n < 60 ? n : 60), name);
    if (p->in_form) {
        perr(p, t->start, "a concept form cannot refer to a concept (@%s)", shown);
        return NULL;
    }
    if (n == 0) {
        perr(p, t->start, "expected a concept name after '@'", NULL);
        return NULL;
    }
    const struct concept *k = concept_find(p->c, name, n);
    if (!k) {
        perr(p, t->start, "unknown concept @%s", shown);
        return NULL;
    }
    int col = col_of(p, t->start);
    struct qnode *acc = NULL;
    for (size_t i = 0; i < k->n; i++) {
        struct qnode *f = parse_form(p, k->forms[i], fields, col);
        if (!f) {
            if (!p->err->msg[0]) perr(p, t->start, "bad form in @%s", shown);
            return NULL;
        }
        acc = acc ? node_pair(p, QN_OR, acc, f, t->start) : f;
        if (!acc) return NULL;
    }
    acc->col = col;
    return acc;
}

static const char *tok_name(enum tk t)
{
    switch (t) {
    case T_AND:
        return "AND";
    case T_OR:
        return "OR";
    case T_NOT:
        return "NOT";
    case T_NEAR:
        return "NEAR";
    case T_RP:
        return ")";
    default:
        return "";
    }
}

static struct qnode *parse_primary(struct parser *p, unsigned fields, const char *after)
{
    struct tok t;
    if (lex(p, &t) < 0) return NULL;
    switch (t.t) {
    case T_FIELD: {
        consume(p, &t);
        char what[16];
        snprintf(what, sizeof what, "%s:", field_names[t.num]);
        struct tok nx;
        if (lex(p, &nx) < 0) return NULL;
        if (nx.start != t.end) {
            perr(p, t.start, "expected a term right after '%s' (no space)", what);
            return NULL;
        }
        return parse_primary(p, 1u << t.num, what);
    }
    case T_LP: {
        consume(p, &t);
        if (++p->depth > QUERY_MAX_DEPTH) {
            perr(p, t.start, "query nested too deeply", NULL);
            return NULL;
        }
        struct qnode *n = parse_or(p, fields);
        p->depth--;
        if (!n) return NULL;
        struct tok c;
        if (lex(p, &c) < 0) return NULL;
        if (c.t != T_RP) {
            perr(p, c.start, "expected ')'", NULL);
            return NULL;
        }
        consume(p, &c);
        return n;
    }
    case T_TERM:
        consume(p, &t);
        return parse_term(p, &t, fields);
    case T_PHRASE:
        consume(p, &t);
        return parse_phrase(p, &t, fields);
    case T_REGEX:
        consume(p, &t);
        return parse_regex(p, &t, fields);
    case T_CONCEPT:
        consume(p, &t);
        return parse_concept(p, &t, fields);
    case T_RP:
        perr(p, t.start, "unexpected ')'", NULL);
        return NULL;
    case T_NOT:
    case T_MINUS:
        perr(p, t.start, "NOT cannot be used here (inside NEAR or a field)", NULL);
        return NULL;
    case T_EOF:
        if (after)
            perr(p, t.start, "expected a term after '%s'", after);
        else
            perr(p, t.start, p->i == 0 ? "empty query" : "expected a term", NULL);
        return NULL;
    default:
        if (after)
            perr(p, t.start, "expected a term after '%s'", after);
        else
            perr(p, t.start, "expected a term before '%s'", tok_name(t.t));
        return NULL;
    }
}

static struct qnode *parse_near(struct parser *p, unsigned fields, const char *after)
{
    struct qnode *left = parse_primary(p, fields, after);
    while (left) {
        struct tok t;
        if (lex(p, &t) < 0) return NULL;
        if (t.t != T_NEAR) break;
        consume(p, &t);
        char what[16];
        snprintf(what, sizeof what, "NEAR/%d", t.num);
        size_t rstart = skip_space(p, p->i);
        struct qnode *right = parse_primary(p, fields, what);
        if (!right) return NULL;
        if (!qnode_positional(left) || !qnode_positional(right)) {
            size_t at = qnode_positional(left) ? rstart : t.start;
            perr(p, at, "NEAR operands must be terms, phrases, concepts or OR groups of them",
                 NULL);
            return NULL;
        }
        left = node_pair(p, QN_NEAR, left, right, t.start);
        if (left) left->near = t.num;
    }
    return left;
}

static struct qnode *parse_unary(struct parser *p, unsigned fields, const char *after)
{
    struct tok t;
    if (lex(p, &t) < 0) return NULL;
    if (t.t != T_NOT && t.t != T_MINUS) return parse_near(p, fields, after);
    consume(p, &t);
    if (++p->depth > QUERY_MAX_DEPTH) {
        perr(p, t.start, "query nested too deeply", NULL);
        return NULL;
    }
    struct qnode *kid = parse_unary(p, fields, t.t == T_NOT ? "NOT" : "-");
    p->depth--;
    if (!kid) return NULL;
    struct qnode *n = node_new(p, QN_NOT, t.start);
    if (!n) return NULL;
    n->kids = arena_alloc(&p->q->arena, sizeof *n->kids);
    if (!n->kids) return perr(p, t.start, "out of memory", NULL), NULL;
    n->kids[0] = kid;
    n->nkids = 1;
    return n;
}

static int starts_operand(enum tk t)
{
    return t == T_LP || t == T_TERM || t == T_PHRASE || t == T_REGEX || t == T_CONCEPT ||
           t == T_FIELD || t == T_NOT || t == T_MINUS;
}

static struct qnode *parse_and(struct parser *p, unsigned fields, const char *after)
{
    struct qnode *left = parse_unary(p, fields, after);
    while (left) {
        struct tok t;
        if (lex(p, &t) < 0) return NULL;
        const char *what = NULL;
        if (t.t == T_AND) {
            consume(p, &t);
            what = "AND";
        } else if (!starts_operand(t.t)) {
            break;
        }
        struct qnode *right = parse_unary(p, fields, what);
        if (!right) return NULL;
        left = node_pair(p, QN_AND, left, right, t.start);
    }
    return left;
}

static struct qnode *parse_or(struct parser *p, unsigned fields)
{
    struct qnode *left = parse_and(p, fields, NULL);
    while (left) {
        struct tok t;
        if (lex(p, &t) < 0) return NULL;
        if (t.t != T_OR) break;
        consume(p, &t);
        struct qnode *right = parse_and(p, fields, "OR");
        if (!right) return NULL;
        left = node_pair(p, QN_OR, left, right, t.start);
    }
    return left;
}

/* ---- public ---- */

void query_free(struct query *q)
{
    if (!q) return;
    for (struct qregex *r = q->regexes; r; r = r->next)
        pcre2_code_free(r->re);
    arena_free(&q->arena);
    free(q);
}

const char *query_source(const struct query *q)
{
    return q->src;
}

/* ---- packing: a compiled query moved into one allocation ----
 * Parsing leaves a query's nodes in an arena whose first block is a page; with thousands of
 * rules every evaluation would start with a TLB and cache miss. Packing copies the tree
 * depth-first (each node followed by its words and strings, then its kids) into one block
 * of the exact size, so a rule set is dense and a query is read front to back. */

struct packer {
    char *base; /* NULL: only measure */
    size_t off;
};

static void *pk_take(struct packer *k, size_t n, size_t align)
{
    k->off = (k->off + align - 1) & ~(align - 1);
    void *p = k->base ? k->base + k->off : NULL;
    k->off += n;
    return p;
}

static const char *pk_str(struct packer *k, const char *s, size_t n)
{
    char *p = pk_take(k, n + 1, 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static struct qnode *pk_node(struct packer *k, const struct qnode *n)
{
    struct qnode *m = pk_take(k, sizeof *m, alignof(struct qnode));
    struct qnode **kids =
        n->nkids ? pk_take(k, n->nkids * sizeof *kids, alignof(struct qnode *)) : NULL;
    struct qword *words =
        n->nwords ? pk_take(k, n->nwords * sizeof *words, alignof(struct qword)) : NULL;
    if (m) {
        *m = *n;
        m->kids = kids;
        m->words = words;
    }
    for (size_t i = 0; i < n->nwords; i++) {
        const struct qword *w = &n->words[i];
        const char *f = pk_str(k, w->folded, w->flen);
        const char *st = w->stem ? pk_str(k, w->stem, w->slen) : NULL;
        if (!words) continue;
        words[i] = *w;
        words[i].folded = f;
        words[i].stem = st;
    }
    const char *term = n->term ? pk_str(k, n->term, strlen(n->term)) : NULL;
    if (m) m->term = term;
    for (size_t i = 0; i < n->nkids; i++) {
        struct qnode *kid = pk_node(k, n->kids[i]);
        if (kids) kids[i] = kid;
    }
    return m;
}

/* Lay the query out in one block: header, source, regex list, tree. The result replaces q
 * (freed); when out of memory q is returned as it is, which only costs speed. */
static struct query *pack(struct query *q)
{
    size_t srclen = strlen(q->src);
    struct packer k = {NULL, sizeof *q};
    pk_str(&k, q->src, srclen);
    for (const struct qregex *r = q->regexes; r; r = r->next)
        pk_take(&k, sizeof *r, alignof(struct qregex));
    pk_node(&k, q->root);
    char *base = malloc(k.off);
    if (!base) return q;
    struct query *nq = (struct query *)base;
    *nq = *q;
    arena_init(&nq->arena);
    k = (struct packer){base, sizeof *nq};
    nq->src = pk_str(&k, q->src, srclen);
    struct qregex **tail = &nq->regexes;
    for (const struct qregex *r = q->regexes; r; r = r->next) {
        struct qregex *c = pk_take(&k, sizeof *c, alignof(struct qregex));
        c->re = r->re;
        *tail = c;
        tail = &c->next;
    }
    *tail = NULL;
    nq->root = pk_node(&k, q->root);
    arena_free(&q->arena); /* the regex codes now belong to nq's list */
    free(q);
    return nq;
}

static int compile(const char *src, const struct concepts *c, const struct query_options *opt,
                   int in_form, struct query **out, struct query_error *err)
{
    struct query_error dummy;
    if (!err) err = &dummy;
    err->col = 0;
    err->msg[0] = '\0';
    *out = NULL;
    if (!src) {
        set_err(err, 0, "query expected", NULL);
        return -1;
    }
    size_t len = strlen(src);
    if (len > QUERY_MAX_LEN) {
        set_err(err, 0, "query too long (at most 65536 bytes)", NULL);
        return -1;
    }
    struct query *q = calloc(1, sizeof *q);
    if (!q) {
        set_err(err, 0, "out of memory", NULL);
        return -1;
    }
    arena_init(&q->arena);
    const char *lang = text_stem_lang(opt && opt->lang ? opt->lang : "en");
    int stem = opt ? opt->stem : 1;
    struct parser p = {src, len, 0, q, c, NULL, stem, 0, 0, NULL, 0, err};
    if (lang && stem) {
        p.stemmer = text_stemmer_new(lang);
        if (!p.stemmer) {
            set_err(err, 0, "out of memory", NULL);
            query_free(q);
            return -1;
        }
        snprintf(q->lang, sizeof q->lang, "%s", lang);
    }
    q->src = arena_strdup(&q->arena, src);
    if (in_form) {
        p.in_form = 1;
        p.form_term = q->src;
    }
    q->root = q->src ? parse_or(&p, QF_DEFAULT) : NULL;
    if (q->root) {
        struct tok t;
        if (lex(&p, &t) == 0 && t.t != T_EOF) {
            perr(&p, t.start, t.t == T_RP ? "unexpected ')'" : "expected an operator", NULL);
            q->root = NULL;
        }
    }
    text_stemmer_free(p.stemmer);
    if (!q->root) {
        if (!err->msg[0]) set_err(err, 0, "out of memory", NULL);
        query_free(q);
        return -1;
    }
    /* a query made of one concept form must also be positional for concepts */
    if (in_form && !qnode_positional(q->root)) {
        set_err(err, 0, "a form must be a term, phrase or wildcard", NULL);
        query_free(q);
        return -1;
    }
    *out = pack(q);
    return 0;
}

int query_compile(const char *src, const struct concepts *c, const struct query_options *opt,
                  struct query **out, struct query_error *err)
{
    return compile(src, c, opt, 0, out, err);
}

/* Check a concept form by compiling it alone, the way parse_form will later. */
static int form_check(const char *form, struct query_error *err)
{
    size_t n = strlen(form);
    char *buf = NULL;
    if (!memchr(form, '"', n) && (memchr(form, ' ', n) || memchr(form, '\t', n))) {
        buf = malloc(n + 3);
        if (!buf) {
            set_err(err, 0, "out of memory", NULL);
            return -1;
        }
        snprintf(buf, n + 3, "\"%s\"", form);
    }
    struct query *q;
    struct query_options opt = {"en", 1};
    int rc = compile(buf ? buf : form, NULL, &opt, 1, &q, err);
    free(buf);
    if (rc == 0) query_free(q);
    return rc;
}
