/*
 * check — the tiny unit-test harness every tests/unit/test_*.c uses. Each CHECK prints
 * nothing on success; each TEST prints one "PASS name" or "FAIL name: file:line: what"
 * line, which tests/run.py counts. main() ends with `return check_summary();`.
 */
#ifndef HERALD_CHECK_H
#define HERALD_CHECK_H

#include <stdio.h>
#include <string.h>

struct check_state {
    int passed, failed, cur_failed;
    const char *cur;
};
static struct check_state check_st;

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    static void run_##name(void)                                                                   \
    {                                                                                              \
        check_st.cur = #name;                                                                      \
        check_st.cur_failed = 0;                                                                   \
        test_##name();                                                                             \
        if (check_st.cur_failed > 0)                                                               \
            check_st.failed++;                                                                     \
        else if (check_st.cur_failed == 0) {                                                       \
            check_st.passed++;                                                                     \
            printf("PASS %s\n", #name);                                                            \
        }                                                                                          \
        fflush(stdout);                                                                            \
    }                                                                                              \
    static void test_##name(void)

#define RUN(name) run_##name()

#define CHECK_FAIL_(...)                                                                           \
    do {                                                                                           \
        if (!check_st.cur_failed) {                                                                \
            printf("FAIL %s: %s:%d: ", check_st.cur, __FILE__, __LINE__);                          \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
        check_st.cur_failed = 1;                                                                   \
    } while (0)

/* A failed check marks the test failed and returns from the test function. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            CHECK_FAIL_("%s", #cond);                                                              \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            CHECK_FAIL_("%s == %s (%lld != %lld)", #a, #b, a_, b_);                                \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            CHECK_FAIL_("%s == %s (\"%s\" != \"%s\")", #a, #b, a_ ? a_ : "(null)",                 \
                        b_ ? b_ : "(null)");                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (!h_ || !strstr(h_, n_)) {                                                              \
            CHECK_FAIL_("%s contains \"%s\" (got \"%.200s\")", #hay, n_, h_ ? h_ : "(null)");      \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Print a skip line (counted as skipped, not passed) and return from the test. */
#define SKIP(...)                                                                                  \
    do {                                                                                           \
        printf("SKIP %s: ", check_st.cur);                                                         \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        check_st.cur_failed = -1;                                                                  \
        return;                                                                                    \
    } while (0)

static inline int check_summary(void)
{
    return check_st.failed ? 1 : 0;
}

#endif
