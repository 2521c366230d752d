/*
 * test_date — date_parse over the forms feeds really use (RFC 822 and its deviations,
 * RFC 3339 / W3C-DTF, slash dates), the ones it must refuse, and date_format_utc.
 * Expected values are the instants the strings name, written out in UTC by hand.
 */
#include "check.h"
#include "date.h"

#include <stdint.h>

struct date_case {
    const char *in;
    const char *utc; /* NULL: must be refused (-1) */
};

static const struct date_case cases[] = {
    /* RFC 822 / 1123 */
    {"Tue, 10 Jun 2003 04:00:00 GMT", "2003-06-10T04:00:00Z"},
    {"Tue, 10 Jun 2003 04:00:00 +0000", "2003-06-10T04:00:00Z"},
    {"Sat, 07 Jan 2017 13:52:27 -0500", "2017-01-07T18:52:27Z"},
    {"Mon, 24 Sep 2018 19:42:40 -0300", "2018-09-24T22:42:40Z"},
    {"Wed, 02 Oct 2002 08:00:00 EST", "2002-10-02T13:00:00Z"},
    {"Wed, 02 Oct 2002 08:00:00 EDT", "2002-10-02T12:00:00Z"},
    {"Wed, 02 Oct 2002 08:00:00 CST", "2002-10-02T14:00:00Z"},
    {"Wed, 02 Oct 2002 08:00:00 CDT", "2002-10-02T13:00:00Z"},
    {"Wed, 02 Oct 2002 08:00:00 MST", "2002-10-02T15:00:00Z"},
    {"Wed, 02 Oct 2002 08:00:00 MDT", "2002-10-02T14:00:00Z"},
    {"Wed, 02 Oct 2002 08:00:00 PST", "2002-10-02T16:00:00Z"},
    {"Wed, 02 Oct 2002 08:00:00 PDT", "2002-10-02T15:00:00Z"},
    {"Wed, 02 Oct 2002 08:00:00 UT", "2002-10-02T08:00:00Z"},
    {"Wed, 02 Oct 2002 08:00:00 CET", "2002-10-02T07:00:00Z"},
    {"02 Oct 2002 08:00:00 +0200", "2002-10-02T06:00:00Z"}, /* no day name */
    {"Wed, 2 Oct 2002 8:0:5 GMT", "2002-10-02T08:00:05Z"},  /* one-digit fields */
    {"Sun, 6 Jan 2020 9:3:00 +0100", "2020-01-06T08:03:00Z"},
    {"Wed, 02 Oct 2002 08:00 GMT", "2002-10-02T08:00:00Z"},    /* no seconds */
    {"Sun, 10 Dec 17 13:01:36 -0800", "2017-12-10T21:01:36Z"}, /* two-digit year */
    {"Fri, 01 Jan 99 00:00:00 GMT", "1999-01-01T00:00:00Z"},
    {"Wed, 02 Oct 2002 08:00:00 Z", "2002-10-02T08:00:00Z"}, /* military */
    {"Wed, 02 Oct 2002 08:00:00 A", "2002-10-02T07:00:00Z"},
    {"Wed, 02 Oct 2002 08:00:00 N", "2002-10-02T09:00:00Z"},
    {"Wed, 02 Oct 2002 08:00:00 +05:30", "2002-10-02T02:30:00Z"},
    {"Wed, 02 Oct 2002 08:00:00 GMT+0800", "2002-10-02T00:00:00Z"},
    {"  Tue, 02 Jan 2018 14:30:00 +0000  ", "2018-01-02T14:30:00Z"},   /* spaces */
    {"Tue, 10 Jun 2003 04:00:00 +0000 (UTC)", "2003-06-10T04:00:00Z"}, /* trailing junk */
    {"Wed, 02 Oct 2002 08:00:00", "2002-10-02T08:00:00Z"},             /* no zone: UTC */
    {"Wed Jan 10 14:03:00 2020", "2020-01-10T14:03:00Z"},              /* asctime */
    {"January 5, 2020 3:45 PM EST", "2020-01-05T20:45:00Z"},
    {"5 January 2020", "2020-01-05T00:00:00Z"},
    {"Seg, 24 Set 2018 19:42:40 -0300", "2018-09-24T22:42:40Z"}, /* Portuguese names */
    {"Thu, 31 Dec 2015 23:59:59 -0100", "2016-01-01T00:59:59Z"}, /* crosses the year */
    {"Tue, 29 Feb 2000 12:00:00 GMT", "2000-02-29T12:00:00Z"},
    /* RFC 3339 / W3C-DTF / ISO 8601 */
    {"2020-01-03T03:18:54Z", "2020-01-03T03:18:54Z"},
    {"2019-07-10T11:53:37+02:00", "2019-07-10T09:53:37Z"},
    {"2021-03-25T05:06:00.001-07:00", "2021-03-25T12:06:00Z"},
    {"2016-02-01T17:22:00+0100", "2016-02-01T16:22:00Z"},
    {"2012-11-13T14:36:22", "2012-11-13T14:36:22Z"},
    {"2017-06-15", "2017-06-15T00:00:00Z"},
    {"2017-06", "2017-06-01T00:00:00Z"},
    {"2017-06-15 10:20:30", "2017-06-15T10:20:30Z"},
    {"2017-06-15T10:20Z", "2017-06-15T10:20:00Z"},
    {"1969-07-20T20:17:40Z", "1969-07-20T20:17:40Z"},
    {"2020/1/10 14:03:00", "2020-01-10T14:03:00Z"},
    {"2020/01/10", "2020-01-10T00:00:00Z"},
    /* refused: never a guess */
    {"", NULL},
    {"yesterday", NULL},
    {"2020", NULL},
    {"Tue, 31 Feb 2003 04:00:00 GMT", NULL},
    {"Tue, 10 Foo 2003 04:00:00 GMT", NULL},
    {"2020-13-01T00:00:00Z", NULL},
    {"2020-01-01T25:00:00Z", NULL},
    {"Tue, 10 Jun 2003 04:61:00 GMT", NULL},
    {"10/01/2020", NULL},
    {"Tue, 10 Jun 04:00:00 GMT", NULL},
    {"2020-01-01T10:00:00+99:00", NULL},
};

TEST(date_table)
{
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t t = date_parse(cases[i].in);
        if (!cases[i].utc) {
            if (t != -1) printf("  case \"%s\" gave %lld\n", cases[i].in, (long long)t);
            CHECK_INT(t, -1);
            continue;
        }
        if (t == -1) printf("  case \"%s\" refused\n", cases[i].in);
        CHECK(t != -1);
        date_format_utc(t, buf, sizeof buf);
        if (strcmp(buf, cases[i].utc) != 0) printf("  case \"%s\"\n", cases[i].in);
        CHECK_STR(buf, cases[i].utc);
    }
}

TEST(date_epoch_values)
{
    CHECK_INT(date_parse("1970-01-01T00:00:00Z"), 0);
    CHECK_INT(date_parse("Thu, 01 Jan 1970 00:00:01 GMT"), 1);
    CHECK_INT(date_parse("2000-01-01T00:00:00Z"), 946684800);
    CHECK_INT(date_parse("2038-01-19T03:14:08Z"), 2147483648LL);
    CHECK_INT(date_parse(NULL), -1);
    CHECK_INT(date_parse("1969-07-20T20:17:40Z"), -14182940);
}

TEST(date_format)
{
    char buf[32];
    CHECK_STR(date_format_utc(0, buf, sizeof buf), "1970-01-01T00:00:00Z");
    CHECK_STR(date_format_utc(951782400, buf, sizeof buf), "2000-02-29T00:00:00Z");
    CHECK_STR(date_format_utc(-1, buf, sizeof buf), "1969-12-31T23:59:59Z");
    CHECK_STR(date_format_utc(253402300799LL, buf, sizeof buf), "9999-12-31T23:59:59Z");
}

int main(void)
{
    RUN(date_table);
    RUN(date_epoch_values);
    RUN(date_format);
    return check_summary();
}
