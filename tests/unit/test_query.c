/*
 * test_query — the query parser and concept sets (core/query.c): what compiles, the
 * structure it compiles to (operators, precedence, words), and the error messages with
 * their 1-based columns.
 */
#include "check.h"
#include "query_impl.h"

#include <stdio.h>
#include <string.h>

static struct query_error err;

/* Compile with English stemming; NULL and `err` filled on failure. */
static struct query *compile(const char *src, const struct concepts *c)
{
    struct query *q = NULL;
    struct query_options opt = {"en", 1};
    if (query_compile(src, c, &opt, &q, &err) < 0) return NULL;
    return q;
}

/* The error column and message for src, as "col N: msg". */
static const char *error_of(const char *src, const struct concepts *c)
{
    static char buf[300];
    struct query *q = compile(src, c);
    if (q) {
        query_free(q);
        return "compiled";
    }
    snprintf(buf, sizeof buf, "col %d: %s", err.col, err.msg);
    return buf;
}

/* A compact rendering of the tree: AND(..), OR(..), NOT(..), NEAR5(..), words with their
 * kind (s:stem, e:exact, p:prefix*, f:fuzzy~n), phrases in [], sloppy phrases [..]~n. */
static void render(const struct qnode *n, char *out, size_t cap)
{
    char tmp[512] = "";
    switch (n->kind) {
    case QN_AND:
    case QN_OR:
    case QN_NEAR:
        if (n->kind == QN_NEAR)
            snprintf(out, cap, "NEAR%d(", n->near);
        else
            snprintf(out, cap, "%s(", n->kind == QN_AND ? "AND" : "OR");
        for (size_t i = 0; i < n->nkids; i++) {
            render(n->kids[i], tmp, sizeof tmp);
            strncat(out, tmp, cap - strlen(out) - 1);
            if (i + 1 < n->nkids) strncat(out, " ", cap - strlen(out) - 1);
        }
        strncat(out, ")", cap - strlen(out) - 1);
        return;
    case QN_NOT:
        render(n->kids[0], tmp, sizeof tmp);
        snprintf(out, cap, "NOT(%s)", tmp);
        return;
    case QN_REGEX:
        snprintf(out, cap, "RE");
        return;
    case QN_SEQ:
        out[0] = '\0';
        if (n->nwords > 1) strncat(out, "[", cap - 1);
        for (size_t i = 0; i < n->nwords; i++) {
            const struct qword *w = &n->words[i];
            char one[200];
            switch (w->kind) {
            case QW_STEM:
                snprintf(one, sizeof one, "s:%s", w->stem);
                break;
            case QW_EXACT:
                snprintf(one, sizeof one, "e:%s", w->folded);
                break;
            case QW_PREFIX:
                snprintf(one, sizeof one, "p:%s*", w->folded);
                break;
            case QW_FUZZY:
                snprintf(one, sizeof one, "f:%s~%d", w->folded, w->dist);
                break;
            }
            if (i) strncat(out, " ", cap - strlen(out) - 1);
            strncat(out, one, cap - strlen(out) - 1);
        }
        if (n->nwords > 1) strncat(out, "]", cap - strlen(out) - 1);
        if (n->slop >= 0) {
            snprintf(tmp, sizeof tmp, "~%d", n->slop);
            strncat(out, tmp, cap - strlen(out) - 1);
        }
        if (n->fields != QF_DEFAULT) {
            snprintf(tmp, sizeof tmp, "@%x", n->fields);
            strncat(out, tmp, cap - strlen(out) - 1);
        }
        return;
    }
}

static const char *tree(const char *src, const struct concepts *c)
{
    static char buf[1024];
    struct query *q = compile(src, c);
    if (!q) {
        snprintf(buf, sizeof buf, "error col %d: %s", err.col, err.msg);
        return buf;
    }
    render(q->root, buf, sizeof buf);
    query_free(q);
    return buf;
}

TEST(terms_are_folded_and_stemmed)
{
    CHECK_STR(tree("Troops", NULL), "s:troop");
    CHECK_STR(tree("Irák", NULL), "s:irak");
    CHECK_STR(tree("=Troops", NULL), "e:troops");
    CHECK_STR(tree("withdraw*", NULL), "p:withdraw*");
    CHECK_STR(tree("Soleimani~1", NULL), "f:soleimani~1");
    CHECK_STR(tree("Soleimani~", NULL), "f:soleimani~1");
    CHECK_STR(tree("Soleimani~2", NULL), "f:soleimani~2");
    CHECK_STR(tree("Iran~1", NULL), "f:iran~1");
    CHECK_STR(tree("Ira~1", NULL), "s:ira"); /* under 4 characters: no fuzziness */
}

TEST(no_stem_option)
{
    struct query *q = NULL;
    struct query_options opt = {"en", 0};
    CHECK_INT(query_compile("troops", NULL, &opt, &q, &err), 0);
    CHECK_INT(q->root->words[0].kind, QW_EXACT);
    query_free(q);
    struct query_options none = {"zz", 1}; /* no stemmer for it: exact words */
    CHECK_INT(query_compile("troops", NULL, &none, &q, &err), 0);
    CHECK_INT(q->root->words[0].kind, QW_EXACT);
    query_free(q);
    CHECK_INT(query_compile("troops", NULL, NULL, &q, &err), 0); /* NULL options: en, stem */
    CHECK_INT(q->root->words[0].kind, QW_STEM);
    CHECK_STR(query_source(q), "troops");
    query_free(q);
}

TEST(phrases)
{
    CHECK_STR(tree("\"Troops to leave\"", NULL), "[s:troop s:to s:leav]");
    CHECK_STR(tree("\"leave troops\"~3", NULL), "[s:leav s:troop]~3");
    CHECK_STR(tree("=\"US troops\"", NULL), "[e:us e:troops]");
    CHECK_STR(tree("\"withdraw* troops\"", NULL), "[p:withdraw* s:troop]");
    /* a term with punctuation inside is a phrase of its words */
    CHECK_STR(tree("long-standing", NULL), "[s:long s:stand]");
    CHECK_STR(tree("Iraq's", NULL), "s:iraq");
}

TEST(operators_and_precedence)
{
    CHECK_STR(tree("a b c", NULL), "AND(s:a s:b s:c)");
    CHECK_STR(tree("a OR b c", NULL), "OR(s:a AND(s:b s:c))");
    CHECK_STR(tree("a b OR c", NULL), "OR(AND(s:a s:b) s:c)");
    CHECK_STR(tree("(a OR b) c", NULL), "AND(OR(s:a s:b) s:c)");
    CHECK_STR(tree("NOT a b", NULL), "AND(NOT(s:a) s:b)");
    CHECK_STR(tree("a -b", NULL), "AND(s:a NOT(s:b))");
    CHECK_STR(tree("a AND NOT b OR c", NULL), "OR(AND(s:a NOT(s:b)) s:c)");
    CHECK_STR(tree("NOT a NEAR/5 b", NULL), "NOT(NEAR5(s:a s:b))");
    CHECK_STR(tree("a NEAR/5 b c", NULL), "AND(NEAR5(s:a s:b) s:c)");
    CHECK_STR(tree("(a OR b) NEAR/2 \"c d\"", NULL), "NEAR2(OR(s:a s:b) [s:c s:d])");
    /* lowercase keywords are words */
    CHECK_STR(tree("war and peace", NULL), "AND(s:war s:and s:peac)");
    CHECK_STR(tree("a or b", NULL), "AND(s:a s:or s:b)");
}

TEST(fields)
{
    CHECK_STR(tree("title:Iraq", NULL), "s:iraq@1");
    CHECK_STR(tree("text:\"a b\"", NULL), "[s:a s:b]@2");
    CHECK_STR(tree("author:(smith OR jones) x", NULL), "AND(OR(s:smith@4 s:jone@4) s:x)");
    CHECK_STR(tree("link:example", NULL), "s:exampl@8");
    CHECK_STR(tree("source:bbc", NULL), "s:bbc@10");
    CHECK_STR(tree("title:(a text:b)", NULL), "AND(s:a@1 s:b@2)");
    CHECK_STR(tree("foo:bar", NULL), "[s:foo s:bar]"); /* not a field: a phrase */
}

TEST(concepts_expand)
{
    struct concepts *c = concepts_new();
    CHECK(c != NULL);
    const char *forms[] = {"withdraw*", "pull out", "\"draw down\"", "removal"};
    CHECK_INT(concepts_add(c, "withdrawal", forms, 4, &err), 0);
    CHECK_STR(tree("@withdrawal", c), "OR(p:withdraw* [s:pull s:out] [s:draw s:down] s:remov)");
    CHECK_STR(tree("troop* NEAR/8 @withdrawal", c),
              "NEAR8(p:troop* OR(p:withdraw* [s:pull s:out] [s:draw s:down] s:remov))");
    CHECK_STR(tree("title:@withdrawal", c),
              "OR(p:withdraw*@1 [s:pull s:out]@1 [s:draw s:down]@1 s:remov@1)");
    CHECK_STR(error_of("@nope", c), "col 1: unknown concept @nope");
    CHECK_STR(error_of("a @", c), "col 3: expected a concept name after '@'");
    concepts_free(c);
}

TEST(concept_errors)
{
    struct concepts *c = concepts_new();
    const char *ok[] = {"x"};
    CHECK_INT(concepts_add(c, "x", ok, 1, &err), 0);
    CHECK_INT(concepts_add(c, "x", ok, 1, &err), -1);
    CHECK_CONTAINS(err.msg, "already defined");
    CHECK_INT(concepts_add(c, "bad name", ok, 1, &err), -1);
    CHECK_CONTAINS(err.msg, "bad concept name");
    CHECK_INT(concepts_add(c, "empty", ok, 0, &err), -1);
    CHECK_CONTAINS(err.msg, "no forms");
    const char *wild[] = {"good", "w*"};
    CHECK_INT(concepts_add(c, "w", wild, 2, &err), -1);
    CHECK_STR(err.msg, "concept @w, form 2 (\"w*\"): wildcard needs at least 2 characters before "
                       "'*'");
    const char *rec[] = {"@x"};
    CHECK_INT(concepts_add(c, "r", rec, 1, &err), -1);
    CHECK_CONTAINS(err.msg, "cannot refer to a concept");
    const char *ops[] = {"a AND b"};
    CHECK_INT(concepts_add(c, "o", ops, 1, &err), 0); /* unquoted words: the phrase "a and b" */
    CHECK_STR(tree("@o", c), "[s:a s:and s:b]");
    const char *notpos[] = {"\"a\" AND b"};
    CHECK_INT(concepts_add(c, "np", notpos, 1, &err), -1);
    CHECK_CONTAINS(err.msg, "a form must be a term, phrase or wildcard");
    concepts_free(c);
}

TEST(errors_with_columns)
{
    CHECK_STR(error_of("(a OR b", NULL), "col 8: expected ')'");
    CHECK_STR(error_of("(troop* NEAR/8 withdraw* AND Iraq", NULL), "col 34: expected ')'");
    CHECK_STR(error_of("a OR b)", NULL), "col 7: unexpected ')'");
    CHECK_STR(error_of("x NEAR y", NULL), "col 3: NEAR needs a number: NEAR/5");
    CHECK_STR(error_of("x NEAR/ y", NULL), "col 3: NEAR needs a number: NEAR/5");
    CHECK_STR(error_of("x NEAR/0 y", NULL), "col 3: NEAR distance must be between 1 and 1000");
    CHECK_STR(error_of("a \"abc", NULL), "col 3: unterminated phrase");
    CHECK_STR(error_of("a AND", NULL), "col 6: expected a term after 'AND'");
    CHECK_STR(error_of("a OR", NULL), "col 5: expected a term after 'OR'");
    CHECK_STR(error_of("AND a", NULL), "col 1: expected a term before 'AND'");
    CHECK_STR(error_of("", NULL), "col 1: empty query");
    CHECK_STR(error_of("   ", NULL), "col 4: empty query");
    CHECK_STR(error_of("w*", NULL), "col 1: wildcard needs at least 2 characters before '*'");
    CHECK_STR(error_of("wi*th", NULL), "col 3: '*' is only allowed at the end of a term");
    CHECK_STR(error_of("word~3", NULL), "col 5: fuzzy distance must be 0, 1 or 2");
    CHECK_STR(error_of("a NEAR/3 (b AND c)", NULL),
              "col 10: NEAR operands must be terms, phrases, concepts or OR groups of them");
    CHECK_STR(error_of("/a/q", NULL), "col 4: unknown regex flag 'q' (use i, m, s, x)");
    CHECK_STR(error_of("x /ab(/", NULL), "col 7: regex: missing closing parenthesis");
    CHECK_STR(error_of("/abc", NULL), "col 1: unterminated regex");
    CHECK_STR(error_of("title:", NULL), "col 7: expected a term after 'title:'");
    CHECK_STR(error_of("title: x", NULL), "col 1: expected a term right after 'title:' (no space)");
    CHECK_STR(error_of("a NEAR/2 -b", NULL),
              "col 10: NOT cannot be used here (inside NEAR or a field)");
    CHECK_STR(error_of("- x", NULL), "col 1: term has no letters or digits");
    CHECK_STR(error_of("Irák (", NULL), "col 7: expected a term"); /* columns count characters */
}

TEST(limits)
{
    char deep[400];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        deep[n++] = '(';
    deep[n++] = 'a';
    for (int i = 0; i < 100; i++)
        deep[n++] = ')';
    deep[n] = '\0';
    CHECK_CONTAINS(error_of(deep, NULL), "nested too deeply");
    char phrase[1200] = "\"";
    for (int i = 0; i < 70; i++)
        strcat(phrase, "word ");
    strcat(phrase, "\"");
    CHECK_CONTAINS(error_of(phrase, NULL), "phrase too long");
    struct query *q = NULL;
    CHECK_INT(query_compile(NULL, NULL, NULL, &q, &err), -1);
    query_free(NULL);
}

TEST(regex_compiles)
{
    CHECK_STR(tree("/sole[a-z]+ani/i", NULL), "RE");
    CHECK_STR(tree("title:/a\\/b/ x", NULL), "AND(RE s:x)");
}

int main(void)
{
    RUN(terms_are_folded_and_stemmed);
    RUN(no_stem_option);
    RUN(phrases);
    RUN(operators_and_precedence);
    RUN(fields);
    RUN(concepts_expand);
    RUN(concept_errors);
    RUN(errors_with_columns);
    RUN(limits);
    RUN(regex_compiles);
    return check_summary();
}
