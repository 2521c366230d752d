/* Unit tests for core/digest.c: the digest of held alerts is an alert document whose
 * article lists the members and whose "digest" carries them whole; ids are stable. */
#include "check.h"
#include "digest.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *A1 =
    "{\"id\":\"a1\",\"rule\":\"iraq\",\"notifier\":null,\"created\":\"2020-01-05T18:31:07Z\","
    "\"article\":{\"id\":\"i1\",\"source\":\"wire\",\"title\":\"Iraq votes to expel US troops\","
    "\"link\":\"https://example.org/1\",\"author\":null,\"published\":null,\"summary\":null,"
    "\"text\":\"Lawmakers voted for the removal of all US troops.\",\"categories\":[],"
    "\"lang\":\"en\"},\"evidence\":[{\"field\":\"text\",\"start\":25,\"end\":32,\"term\":"
    "\"@withdrawal\",\"match\":\"removal\",\"context\":\"Lawmakers voted for the removal of all "
    "US troops.\"}]}";
static const char *A2 =
    "{\"id\":\"a2\",\"rule\":\"iraq\",\"notifier\":null,\"created\":\"2020-01-05T19:00:00Z\","
    "\"article\":{\"id\":\"i2\",\"source\":\"wire\",\"title\":\"Troops told to leave\","
    "\"link\":\"https://example.org/2\",\"author\":null,\"published\":null,\"summary\":null,"
    "\"text\":\"\",\"categories\":[],\"lang\":\"en\"},\"evidence\":[]}";
static const char *B1 =
    "{\"id\":\"b1\",\"rule\":\"soleimani\",\"notifier\":null,\"created\":\"2020-01-05T19:00:00Z\","
    "\"article\":{\"id\":\"i3\",\"source\":\"other\",\"title\":\"General killed\","
    "\"link\":null,\"author\":null,\"published\":null,\"summary\":null,"
    "\"text\":\"\",\"categories\":[],\"lang\":\"en\"},\"evidence\":[]}";

TEST(digest_id_is_stable_and_depends_on_members)
{
    const char *ids[] = {"a1", "a2"};
    const char *other[] = {"a2", "a1"};
    char x[33], y[33], z[33], w[33];
    digest_make_id("phone", ids, 2, x);
    digest_make_id("phone", ids, 2, y);
    digest_make_id("phone", other, 2, z);
    digest_make_id("desk", ids, 2, w);
    CHECK_INT((int)strlen(x), 32);
    CHECK_STR(x, y);
    CHECK(strcmp(x, z) != 0);
    CHECK(strcmp(x, w) != 0);
}

TEST(digest_lists_members_and_carries_them)
{
    const char *docs[] = {A1, A2};
    struct digest d;
    char err[128] = "";
    CHECK_INT(digest_build("dg", "iraq", 1578252667, docs, 2, &d, err, sizeof err), 0);
    CHECK_STR(d.title, "2 new articles for iraq");
    CHECK_STR(d.link, "https://example.org/1");
    CHECK_STR(d.source, "wire");
    json_error_t je;
    json_t *root = json_loads(d.json, 0, &je);
    CHECK(root != NULL);
    CHECK_STR(json_string_value(json_object_get(root, "id")), "dg");
    CHECK_STR(json_string_value(json_object_get(root, "rule")), "iraq");
    CHECK_STR(json_string_value(json_object_get(root, "created")), "2020-01-05T19:31:07Z");
    json_t *dg = json_object_get(root, "digest");
    CHECK_INT((int)json_integer_value(json_object_get(dg, "count")), 2);
    json_t *members = json_object_get(dg, "alerts");
    CHECK_INT((int)json_array_size(members), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(members, 1), "id")), "a2");
    const char *text = json_string_value(json_object_get(json_object_get(root, "article"), "text"));
    CHECK(text != NULL);
    /* Each member: its title and source, the sentence that fired, its link, in order. */
    CHECK_CONTAINS(text, "• Iraq votes to expel US troops (wire)\n  Lawmakers voted for the "
                         "removal of all US troops.\n  https://example.org/1");
    CHECK_CONTAINS(text, "\n\n• Troops told to leave (wire)\n  https://example.org/2");
    CHECK(strstr(text, "Iraq votes") < strstr(text, "Troops told"));
    CHECK(json_is_array(json_object_get(root, "evidence")));
    json_decref(root);
    digest_free(&d);
}

TEST(digest_of_mixed_rules_and_sources)
{
    const char *docs[] = {A1, B1};
    struct digest d;
    char err[128] = "";
    CHECK_INT(digest_build("dg2", "digest", 0, docs, 2, &d, err, sizeof err), 0);
    CHECK_STR(d.title, "2 new articles from 2 rules");
    CHECK(d.source == NULL);
    CHECK_CONTAINS(d.json, "\"source\":null");
    digest_free(&d);
}

TEST(digest_refuses_non_alerts)
{
    const char *docs[] = {A1, "{\"id\":\"x\"}"};
    struct digest d;
    char err[128] = "";
    CHECK_INT(digest_build("dg3", "iraq", 0, docs, 2, &d, err, sizeof err), -1);
    CHECK_CONTAINS(err, "held alert 2 is not an alert document");
    CHECK(d.json == NULL);
    CHECK_INT(digest_build("dg3", "iraq", 0, docs, 0, &d, err, sizeof err), -1);
    const char *broken[] = {"{not json"};
    CHECK_INT(digest_build("dg3", "iraq", 0, broken, 1, &d, err, sizeof err), -1);
}

int main(void)
{
    RUN(digest_id_is_stable_and_depends_on_members);
    RUN(digest_lists_members_and_carries_them);
    RUN(digest_of_mixed_rules_and_sources);
    RUN(digest_refuses_non_alerts);
    return check_summary();
}
