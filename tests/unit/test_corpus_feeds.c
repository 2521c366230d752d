/*
 * test_corpus_feeds — feed_parse over EVERY document in shared/data/feeds (real feeds
 * from public test suites). Per file: the format, whether recovery was needed, the item
 * count, and the first item's title, link, date and a snippet of its text, each looked
 * up in the document itself (see the comments for where herald deliberately differs
 * from a naive reading). SKIPs when the data directory is absent.
 */
#include "check.h"
#include "date.h"
#include "feed.h"

#include <dirent.h>
#include <libxml/parser.h>
#include <libxml/xmlIO.h>
#include <stdlib.h>
#include <string.h>

struct expect {
    const char *file;
    enum feed_format format;
    int bozo; /* the document is not well-formed (or not in its declared charset) */
    size_t items;
    const char *title; /* first item; NULL: no title in the document (derived one expected) */
    const char *link;
    const char *published; /* UTC; NULL: the item carries no date */
    const char *snippet;   /* words of the first item's text; NULL: the item has none */
};

/* Links: feedburner:origLink is preferred over the feedproxy redirect (jn-pt, pcmag,
 * reuters, techcrunch); relative links are resolved against xml:base / the feed link
 * (ongoing, tpm); Atom picks rel="alternate" (quiltville). Dates: "2020/1/10 14:33:00"
 * (kc0011) and Portuguese names (uol) are read as UTC / their offset; nbc's
 * "Sat, Dec 16 2023 02:02:33 PM" is 14:02 UTC. pcmag has 10 real items (each wraps an
 * illegal empty <item/>). The mojibake feeds (spiegel, 20minutos) are kept as they are. */
static const struct expect expects[] = {
    {"atom_bbc-chinese.xml", FEED_ATOM10, 0, 2, "白宫提名艾伦为北约最高司令官",
     "http://www.bbc.co.uk/zhongwen/simp/world/2013/01/130123_us_genallen_nato.shtml",
     "2013-01-23T20:40:21Z", "将提名驻阿富汗美军司令官约翰"},
    {"atom_daringfireball.xml", FEED_ATOM10, 0, 48, "The Talk Show: ‘I Do Like Throwing a Baby’",
     "https://daringfireball.net/thetalkshow/2017/06/26/ep-195", "2017-06-27T00:54:17Z",
     "New episode of America’s favorite"},
    {"atom_feedburner-xhtml.xml", FEED_ATOM10, 0, 10, "Stock Watch: April's Finest",
     "http://feedproxy.google.com/~r/RotoAuthorityFantasyBaseball/~3/oAyOtW4WnU4/"
     "stock-watch-aprils-finest.html",
     "2014-04-30T13:00:00Z", "We always think we know"},
    {"atom_google-alerts_html-titles.xml", FEED_ATOM10, 0, 20,
     "Report offers Prediction of Automotive Slack Market by Top key players like Haldex, Meritor, "
     "Bendix ...",
     "https://www.google.com/url?rct=j&sa=t&url=https://www.aglobalmarketresearch.com/"
     "report-offers-prediction-of-automotive-slack-market-by-top-key-players-like-haldex-meritor-"
     "bendix-mei-wabco-accuride-stemco-tbk-febi-aydinsan/"
     "&ct=ga&cd=CAIyHGU4ZTJkZjQ3OTVkYmIzMTc6Y28uanA6ZW46SlA&usg=AFQjCNHUcRGtHY1ygcMDkVS68IgpYs7Wpg",
     "2019-07-10T11:53:37Z", "Automotive Slack Market reports provides"},
    {"atom_heise-developer.xml", FEED_ATOM10, 0, 15,
     "Java-Anwendungsserver: Red Hat gibt WildFly 10 frei",
     "http://www.heise.de/developer/meldung/"
     "Java-Anwendungsserver-Red-Hat-gibt-WildFly-10-frei-3088438.html?wt_mc=rss.developer.beitrag."
     "atom",
     "2016-02-01T16:22:00Z", "Die nun verfügbare Version 10"},
    {"atom_ongoing-tbray_xml-base.xml", FEED_ATOM10, 0, 20, "The ASF Server",
     "http://www.tbray.org/ongoing/When/200x/2006/03/06/Apache-Server", "2006-03-06T20:00:00Z",
     "Sun gave the Apache Software"},
    {"atom_quiltville-blogger.xml", FEED_ATOM10, 0, 25, "Bloom, Baby, Bloom!",
     "https://quiltville.blogspot.com/2021/03/bloom-baby-bloom.html", "2021-03-25T12:06:00Z",
     "The forsythia are exploding!"},
    {"atom_samruby_ws-before-decl.xml", FEED_ATOM10, 1, 20, "Plex", "/blog/2013/01/30/Plex",
     "2013-01-30T18:12:03Z", "Scott Hanselman"},
    {"atom_stackoverflow_control-char.xml", FEED_ATOM10, 1, 1,
     "Decode NMEA bytes received via external GPS bluetooth device",
     "https://stackoverflow.com/questions/49812816/"
     "decode-nmea-bytes-received-via-external-gps-bluetooth-device",
     "2018-04-13T08:45:41Z", "I'm trying to decode the"},
    {"atom_thepost-ohiou.xml", FEED_ATOM10, 0, 24, "Strip club might give way to new alternative",
     "http://www.thepost.ohiou.edu/Articles/News/2008/03/07/23319/", "2008-03-07T05:00:00Z",
     "Pro Rentals, Inc. Owner Demetrios"},
    {"atom_theverge.xml", FEED_ATOM10, 0, 10, "This is the new Hulu experience with live TV",
     "http://www.theverge.com/ces/2017/1/7/14195588/hulu-live-tv-streaming-internet-ces-2017",
     "2017-01-07T14:00:01Z", "Hulu is giving closed-door demonstrations"},
    {"atom_tpm-news.xml", FEED_ATOM10, 0, 20,
     "Hannity Announces Fox Has Hired Sebastian Gorka As NatSec Strategist",
     "http://talkingpointsmemo.com/livewire/"
     "hannity-announces-fox-hired-sebastian-gorka-national-security-strategist",
     "2017-11-08T23:15:58Z", "Fox News star host Sean"},
    {"json_3960-org_v1.1_de.json", FEED_JSONFEED, 0, 20, "Lecker, lecker",
     "https://journal.3960.org/posts/2020-02-21-lecker-lecker/", "2020-02-21T17:08:06Z",
     "Da ist es zwar nicht"},
    {"json_allthis.json", FEED_JSONFEED, 0, 12, "Last thoughts on modifier keys",
     "http://leancrew.com/all-this/2017/11/last-thoughts-on-modifier-keys/", "2017-11-23T21:08:29Z",
     "When I wrote the post"},
    {"json_daringfireball.json", FEED_JSONFEED, 0, 48, "The Talk Show: ‘I Do Like Throwing a Baby’",
     "https://daringfireball.net/linked/2017/06/26/the-talk-show-195", "2017-06-27T00:54:17Z",
     "New episode of America’s favorite"},
    {"json_inessential_v1.json", FEED_JSONFEED, 0, 20,
     "James Dempsey and the Breakpoints Benefit App Camp for Girls",
     "http://inessential.com/2017/06/02/james_dempsey_and_the_breakpoints_benefi",
     "2017-06-03T05:05:47Z", "On Wednesday night I know"},
    {"json_influxdata_v1.1.json", FEED_JSONFEED, 0, 3,
     "InfluxDB vs. Graphite for Time Series Data & Metrics Benchmark",
     "https://www.influxdata.com/blog/"
     "influxdb-outperforms-graphite-in-time-series-data-metrics-benchmark",
     "2019-05-31T19:17:58Z", "This blog post has been"},
    {"json_lukedorny_v1.1_escaped-slashes.json", FEED_JSONFEED, 0, 30, "New Font",
     "https://lukedorny.com/updates/new-font", "2025-01-06T01:40:00Z",
     "What are some common letter"},
    {"rss090_heise_rdf.xml", FEED_RSS09X, 0, 60, "OLED-TVs: Vorsichtsmaßnahmen gegen Einbrennen",
     "https://www.heise.de/newsticker/meldung/"
     "OLED-TVs-Vorsichtsmassnahmen-gegen-Einbrennen-4205274.html?wt_mc=rss.ho.beitrag.rdf",
     NULL, "Wer gerade einen neuen OLED-Fernseher"},
    {"rss091_dicas-l_iso-8859-1.xml", FEED_RSS09X, 0, 1, "bash - Expansão de Parâmetros",
     "http://www.Dicas-L.com.br/dicas-l/20200406.php", NULL, "bash - Expansão de Parâmetros"},
    {"rss092_weblabor-hu_iso-8859-2_doctype.xml", FEED_RSS09X, 0, 1,
     "Kommunikáció a fontosabb PHP projektek és a nyelv fejlesztői között",
     "http://weblabor.hu/hirek/20051008/phpkapcsolat", "2005-10-08T17:13:28Z",
     "Nemrég elég nagy vihart kavart"},
    {"rss1_20minutos-es_double-encoded-utf8.xml", FEED_RSS10, 0, 15,
     "Obama le recuerda a Trump que Putin \"no es de nuestro equipo\"",
     "http://www.20minutos.es/noticia/2928243/0/obama-recuerda-trump-putin-no-es-de-su-equipo/",
     "2017-01-07T12:07:24Z", "AdemÃ¡s, Obama ha recordado la"},
    {"rss1_biorxiv_no-decl.rdf", FEED_RSS10, 0, 30,
     "Wheat inositol pyrophosphate kinase (TaVIH2-3B) interacts with Fasciclin-like "
     "arabinogalactan (FLA6) protein and alters the plant cell-wall composition",
     "http://biorxiv.org/cgi/content/short/743294v1?rss=1", "2019-08-27T00:00:00Z",
     "Inositol pyrophosphates (PPx-InsPs) are of"},
    {"rss1_gmane_no-tz-dates.xml", FEED_RSS10, 0, 5, "split massive package into modules",
     "http://permalink.gmane.org/gmane.mail.rss2email/5", "2012-11-13T14:36:22Z",
     "I just split the 1769-line"},
    {"rss1_orf-at.xml", FEED_RSS10, 0, 50,
     "US-Band New Edition mit Stern auf „Walk of Fame“ geehrt", "http://orf.at/stories/2376368/",
     "2017-01-23T20:54:55Z", NULL},
    {"rss1_science-aaas.xml", FEED_RSS10, 0, 69, "Food for fungi",
     "http://science.sciencemag.org/cgi/content/short/356/6343/1134-a?rss=1",
     "2017-06-15T17:29:47Z", NULL},
    {"rss2_aktuality-sk.xml", FEED_RSS20, 0, 30,
     "Analytici Goldman Sachs zvýšili odhad rastu ekonomiky USA",
     "https://www.aktuality.sk/clanok/856577/"
     "analytici-goldman-sachs-zvysili-odhad-rastu-ekonomiky-usa/",
     "2021-01-17T18:27:00Z", "Očakávajú totiž, že plán fiškálnych"},
    {"rss2_bbc-urdu.xml", FEED_RSS20, 0, 26,
     "امریکی عسکری امداد کی بندش کی وجوہات: انڈیا سے جنگ، جوہری پروگرام اور اب دہشت گردوں کی پشت "
     "پناہی",
     "http://www.bbc.com/urdu/pakistan-42575603", "2018-01-05T16:51:00Z",
     "امریکہ اور پاکستان کے 70"},
    {"rss2_cercle-psy_undeclared-latin1.xml", FEED_RSS20, 1, 10,
     "Perturbateurs endocriniens : quels effets sur le cerveau ?",
     "https://le-cercle-psy.scienceshumaines.com/"
     "perturbateurs-endocriniens-quels-effets-sur-le-cerveau_sh_39995",
     "2018-10-17T10:30:00Z", "Si leur impact semble discret"},
    {"rss2_db-engines_undefined-entity.xml", FEED_RSS20, 1, 1,
     "Snowflake is the DBMS of the Year 2022, defending the title from last year",
     "https://db-engines.com/en/blog_post/103", "2023-01-03T15:00:00Z",
     "Snowflake is the database management"},
    {"rss2_fcutrecht_bogus-decl.xml", FEED_RSS20, 0, 20,
     "Serdar Gözübüyük scheidsrechter bij FC Twente - FC Utrecht",
     "https://www.fcutrecht.net/nieuws/"
     "serdar-g-z-b-y-k-scheidsrechter-bij-fc-twente-fc-utrecht~8805",
     "2021-09-06T10:17:00Z", "1️⃣ Serdar Gözübüyük 🚩 Joost"},
    {"rss2_golem-de_iso-8859-1.xml", FEED_RSS20, 0, 40,
     "Red Dead Redemption 2: Hinweise auf PC-Umsetzung in App von Rockstar Games",
     "https://www.golem.de/news/"
     "red-dead-redemption-2-hinweise-auf-pc-umsetzung-in-app-von-rockstar-games-1810-137358-rss."
     "html",
     "2018-10-28T12:48:00Z", "Viele Spieler wünschen sich eine"},
    {"rss2_guardian-us.xml", FEED_RSS20, 0, 55,
     "Trump State of the Union address promised unity but emphasized discord",
     "https://www.theguardian.com/us-news/2018/jan/31/"
     "donald-trump-state-of-the-union-address-unity-discord",
     "2018-01-31T07:26:05Z", "The president’s ‘new American moment’"},
    {"rss2_hackernews_no-decl.xml", FEED_RSS20, 0, 30,
     "AWS Lambda Function URLs: Built-In HTTPS Endpoints for Lambda",
     "https://aws.amazon.com/blogs/aws/"
     "announcing-aws-lambda-function-urls-built-in-https-endpoints-for-single-function-"
     "microservices/",
     "2022-04-06T21:07:47Z", "Comments"},
    {"rss2_hoder_persian.xml", FEED_RSS20, 0, 7,
     "لينکدونی‌ | جلسه‌ی امریکن انترپرایز برای تقسیم "
     "قومی "
     "ایران",
     "http://www.aei.org/events/type.upcoming,eventID.1166,filter.all/event_detail.asp",
     "2005-10-13T00:45:32Z", "چطور بعضی‌ها فکر می‌کنند دست"},
    {"rss2_huffpost-canada.xml", FEED_RSS20, 0, 2,
     "Winnipeg High School Orders Custom Hijabs For Muslim Athletes",
     "http://www.huffingtonpost.ca/2017/10/17/"
     "winnipeg-high-school-orders-custom-hijabs-for-muslim-athletes_a_23246627/",
     "2017-10-17T22:17:00Z", "Winnipeg high school student Nusaybah"},
    {"rss2_ilgiornale-cronache.xml", FEED_RSS20, 0, 1,
     "Arrestato in Pakistan Shabbar Abbas. In Italia è accusato per l'omicidio di Saman",
     "https://www.ilgiornale.it/news/cronaca-nera/"
     "caso-saman-abbas-arrestato-pakistan-padre-shabbar-2085649.html",
     "2022-11-15T20:15:04Z", "È stato arrestato in Pakistan"},
    {"rss2_ilmessaggero-mondo_no-decl.xml", FEED_RSS20, 0, 1,
     "Missili Polonia, cosa è successo? Tensione Nato-Russia, Mosca: non siamo stati noi",
     "https://www.ilmessaggero.it/mondo/missili_polonia_cosa_e_successo_davvero-7054869.html",
     "2022-11-15T23:38:15Z", "Non sono ancora le 16"},
    {"rss2_japantimes_no-item-dates.xml", FEED_RSS20, 0, 118,
     "‘Trump shock’ after Toyota tweet reverberates as Japan business community reacts with "
     "concern",
     "http://www.japantimes.co.jp/news/2017/01/07/business/"
     "trump-shock-toyota-tweet-reverberates-japan-business-community-reacts-concern/",
     NULL, "U.S. president-electâ€™s protectionist threats put"},
    {"rss2_jn-pt_iso-8859-1.xml", FEED_RSS20, 0, 40,
     "Mãe de utente é a nova presidente da Raríssimas",
     "https://www.jn.pt/nacional/interior/"
     "sonia-laig-e-a-nova-presidente-da-rarissimas-9021600.html",
     "2018-01-03T13:47:00Z", "Sónia Laygue, profissional na área"},
    {"rss2_kc0011_gb2312.xml", FEED_RSS20, 0, 20, "建国35周年纪念，华表，和平鸽",
     "http://www.kc0011.net/dispbbs.asp?BoardID=10&ID=25164257&Page=1", "2020-01-10T14:33:00Z",
     "35周年1套520"},
    {"rss2_livemint.xml", FEED_RSS20, 0, 25,
     "PM Modi-Xi Jinping informal summit in Varanasi this October: Report",
     "https://www.livemint.com/news/india/"
     "pm-modi-xi-jinping-informal-summit-in-varanasi-this-october-report-1559104147038.html",
     "2019-05-29T10:16:00Z", "PM Modi hosting Xi in"},
    {"rss2_macworld_leading-ws.xml", FEED_RSS20, 0, 30, "Best smart lock",
     "https://www.techhive.com/article/3212828/connected-home/best-smart-lock.html#tk.rss_all",
     "2017-11-28T23:40:00Z", "Keys are yesterday’s tech, your"},
    {"rss2_mirror-world_no-decl.xml", FEED_RSS20, 0, 25,
     "Sickening video shows crocodile keep snapping its jaws after being beheaded on cruel reptile "
     "farm",
     "http://www.mirror.co.uk/news/world-news/sickening-video-shows-crocodile-keep-9578868",
     "2017-01-07T14:26:00Z", "WARNING GRAPHIC FOOTAGE: The stricken"},
    {"rss2_moscowtimes.xml", FEED_RSS20, 0, 50,
     "Russian State TV Praises Trump for Avoiding ‘Democracy’ in Inauguration Speech",
     "https://themoscowtimes.com/articles/"
     "russian-state-tv-praises-trump-for-avoiding-democracy-in-inauguration-speech-56901",
     "2017-01-23T16:45:02Z", "Though he welcomed the end"},
    {"rss2_nbc-newyork.xml", FEED_RSS20, 0, 1,
     "NYC cops search for stabbing suspect after leaving 18-year-old to bleed out on sidewalk",
     "https://www.nbcnewyork.com/news/local/"
     "nyc-cops-search-for-stabbing-suspect-after-leaving-18-year-old-to-bleed-out-on-sidewalk/"
     "4956764/",
     "2023-12-16T14:02:33Z", "A young man was left"},
    {"rss2_neverwinter_relative-urls.xml", FEED_RSS20, 0, 2,
     "Neverwinter & Jingle Jam Humble Bundle!",
     "/en/games/neverwinter/news/detail/10743874-neverwinter-%26-jingle-jam-humble-bundle%21",
     "2017-12-07T18:00:29Z", "Greetings Adventurers! Neverwinter is proud"},
    {"rss2_nshipster_gzip.xml.gz", FEED_RSS20, 0, 25, "NSOperation",
     "http://nshipster.com/nsoperation/", "2014-07-14T07:00:00Z", "In life, there's always work"},
    {"rss2_nytimes-home.xml", FEED_RSS20, 0, 33,
     "Putin Led a Complex Cyberattack Scheme to Aid Trump, Report Finds",
     "http://www.nytimes.com/2017/01/06/us/politics/"
     "donald-trump-wall-hack-russia.html?partner=rss&emc=rss",
     "2017-01-07T01:49:31Z", "U.S. intelligence agencies presented their"},
    {"rss2_oren-ru_windows-1251.xml", FEED_RSS20, 0, 10,
     "В Бузулуке главные стройплощадки – детсад и Ледовый дворец",
     "http://www.oren.ru/news/2743422/", "2014-01-22T14:31:31Z",
     "Работы по возведению детского сада"},
    {"rss2_pcmag-dvorak_illegally-nested.xml", FEED_RSS20, 0, 10,
     "My Professional Armchair Analysis of CES",
     "http://www.pcmag.com/article2/0,2817,2525649,00.asp?kc=PCRSS03079TX1K0000584",
     "2018-01-17T20:50:00Z", "No one needs to go"},
    {"rss2_retriever-no_iso-8859-1.xml", FEED_RSS20, 0, 30, "SVART MÅNAD - DÖDSOLYCKA i Vetlanda",
     "https://www.retriever-info.com/go/"
     "?a=30338&d=00201120180819281555686&p=200108&s=2011&sa=2016177&u=http%3A%2F%2Fwww."
     "hoglandsnytt.se%2Fsvart-manad-dodsolycka-i-vetlanda%2F&x=33d88e677ce6481d9882de22c76e4234",
     "2018-08-19T07:14:00Z", "Under juli 2018 omkom 39"},
    {"rss2_reuters-world.xml", FEED_RSS20, 0, 10,
     "Iraq says deal reached over withdrawal of Turkish forces from Bashiqa",
     "http://www.reuters.com/article/"
     "us-mideast-crisis-iraq-turkey-abadi-idUSKBN14R0D4?feedType=RSS&feedName=worldNews",
     "2017-01-07T13:52:27Z", "BAGHDAD (Reuters) - Iraq's Prime"},
    {"rss2_rubenerd_mixed-date-formats.xml", FEED_RSS20, 0, 10,
     "The great Commodore/Atari engineer swap",
     "https://rubenerd.com/the-commodore-atari-engineer-swap/", "2023-01-10T21:53:01Z",
     "Spend any time reading about"},
    {"rss2_scriptingnews_untitled-items.xml", FEED_RSS20, 0, 50, NULL,
     "http://scripting.com/2017/06/26.html#a080605", "2017-06-26T12:20:05Z",
     "Good morning students and teachers!"},
    {"rss2_sixapart-jp.xml", FEED_RSS20, 0, 15,
     "ファイブ・ディーが、Movable Typeでブログプロモーションをスタート",
     "http://www.sixapart.jp/news/2005/10/07-1909.html", "2005-10-07T10:09:34Z",
     "ファイブ・ディーは、Movable Typeで構築したプロモーション ブログ『宮沢和史 中南米ツアーblog "
     "Latin"},
    {"rss2_spiegel_double-encoded-utf8.xml", FEED_RSS20, 0, 17,
     "Polizeieinsatz in KÃ¶lner Silvesternacht: Alles richtig gemacht. Alles?",
     "http://www.spiegel.de/panorama/justiz/"
     "silvester-in-koeln-was-wir-ueber-den-polizeieinsatz-wissen-und-welche-fragen-offen-sind-a-"
     "1128896.html#ref=rss",
     "2017-01-07T10:49:00Z", "Erneut bewegte die Silvesternacht in"},
    {"rss2_tails-news.xml", FEED_RSS20, 0, 10, "Our achievements in 2020",
     "https://tails.boum.org/news/achievements_in_2020/index.en.html", "2020-12-23T18:02:12Z",
     "Despite everything, 2020 was a"},
    {"rss2_techcrunch_ws-before-decl.xml", FEED_RSS20, 1, 20,
     "Angie’s List Sets Price Range IPO At $11 To $13 Per Share; Valued At Over $600M",
     "http://techcrunch.com/2011/11/02/"
     "angies-list-prices-ipo-at-11-to-13-per-share-valued-at-over-600m/",
     "2011-11-02T17:25:27Z", "Angie's List, which offers consumers"},
    {"rss2_uol-noticias_undeclared-latin1.xml", FEED_RSS20, 1, 15,
     "Ibope: Bolsonaro perde de Haddad, Ciro e Alckmin em simulações de 2º turno",
     "https://noticias.uol.com.br/politica/eleicoes/2018/noticias/2018/09/24/"
     "ibope-bolsonaro-perde-de-haddad-ciro-e-alckmin-em-simulacoes-de-2-turno.htm",
     "2018-09-24T22:42:40Z", "Líder na pesquisa Ibope de"},
    {"rss2_washingtonpost-wellness.xml", FEED_RSS20, 0, 29,
     "Schools minister to kids’ fitness and nutrition needs",
     "http://feeds.washingtonpost.com/click.phdo?i=cc0c5fb09865354bbec8415210a554da",
     "2012-08-21T15:33:00Z", "You’ve just been appointed Minister"},
};

static const char *data_dir(char *buf, size_t n)
{
    const char *root = getenv("HERALD_ROOT");
    snprintf(buf, n, "%s/../shared/data/feeds", root ? root : ".");
    DIR *d = opendir(buf);
    if (!d) return NULL;
    closedir(d);
    return buf;
}

/* Whole file; .gz files are inflated through libxml2's I/O layer (built with zlib), as
 * fetch would after Content-Encoding: gzip. */
static char *read_doc(const char *path, size_t *len)
{
    xmlParserInputBuffer *in = xmlParserInputBufferCreateFilename(path, XML_CHAR_ENCODING_NONE);
    if (!in) return NULL;
    int r;
    while ((r = xmlParserInputBufferRead(in, 1 << 16)) > 0) {
    }
    size_t n = xmlBufUse(in->buffer);
    char *out = r < 0 ? NULL : malloc(n + 1);
    if (out) {
        memcpy(out, xmlBufContent(in->buffer), n);
        out[n] = '\0';
        *len = n;
    }
    xmlFreeParserInputBuffer(in);
    return out;
}

static const struct expect *find(const char *file)
{
    for (size_t i = 0; i < sizeof expects / sizeof expects[0]; i++)
        if (strcmp(expects[i].file, file) == 0) return &expects[i];
    return NULL;
}

static int check_one(const char *dir, const struct expect *e)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->file);
    size_t len = 0;
    char *data = read_doc(path, &len);
    if (!data) {
        printf("  %s: cannot read\n", e->file);
        return 0;
    }
    struct feed *f = NULL;
    char err[256];
    int rc = feed_parse(data, len, NULL, NULL, NULL, &f, err, sizeof err);
    free(data);
    if (rc != 0) {
        printf("  %s: %s\n", e->file, err);
        return 0;
    }
    int ok = 1;
    const struct item *it = f->n_items ? &f->items[0] : NULL;
    char date[32] = "(none)";
    if (it && it->published >= 0) date_format_utc(it->published, date, sizeof date);
    if (f->format != e->format || f->bozo != e->bozo || f->n_items != e->items || !it) {
        printf("  %s: format %d bozo %d items %zu\n", e->file, f->format, f->bozo, f->n_items);
        ok = 0;
    } else if (e->title ? !it->title || strcmp(it->title, e->title) != 0 : !it->title) {
        printf("  %s: title \"%s\"\n", e->file, it->title ? it->title : "(null)");
        ok = 0;
    } else if (!it->link || strcmp(it->link, e->link) != 0) {
        printf("  %s: link \"%s\"\n", e->file, it->link ? it->link : "(null)");
        ok = 0;
    } else if (e->published ? strcmp(date, e->published) != 0 : it->published != -1) {
        printf("  %s: published %s\n", e->file, date);
        ok = 0;
    } else if (e->snippet && !strstr(item_text(it), e->snippet) &&
               !(it->summary && strstr(it->summary, e->snippet))) {
        printf("  %s: text lacks \"%s\"\n", e->file, e->snippet);
        ok = 0;
    } else if (!it->id || !*it->id) {
        printf("  %s: no id\n", e->file);
        ok = 0;
    }
    feed_free(f);
    return ok;
}

TEST(corpus_every_feed)
{
    char buf[1024];
    const char *dir = data_dir(buf, sizeof buf);
    if (!dir) SKIP("shared/data/feeds not found");
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int seen = 0, good = 0, unknown = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "manifest.json") == 0) continue;
        const struct expect *e = find(de->d_name);
        if (!e) {
            printf("  %s: no expectations written for this file\n", de->d_name);
            unknown++;
            continue;
        }
        seen++;
        good += check_one(dir, e);
    }
    closedir(d);
    printf("  feeds: %d of %d as expected\n", good, seen);
    CHECK_INT(unknown, 0);
    CHECK_INT(seen, (int)(sizeof expects / sizeof expects[0]));
    CHECK_INT(good, seen);
}

TEST(corpus_gzip_body_is_refused_raw)
{
    char buf[1024];
    const char *dir = data_dir(buf, sizeof buf);
    if (!dir) SKIP("shared/data/feeds not found");
    char path[1200];
    snprintf(path, sizeof path, "%s/rss2_nshipster_gzip.xml.gz", dir);
    FILE *fp = fopen(path, "rb");
    CHECK(fp != NULL);
    char raw[512];
    size_t n = fread(raw, 1, sizeof raw, fp);
    fclose(fp);
    struct feed *f = NULL;
    char err[200];
    CHECK_INT(feed_parse(raw, n, NULL, NULL, NULL, &f, err, sizeof err), -1);
    CHECK_CONTAINS(err, "gzip");
}

TEST(corpus_doctype_entities_not_fetched)
{
    char buf[1024];
    const char *dir = data_dir(buf, sizeof buf);
    if (!dir) SKIP("shared/data/feeds not found");
    char path[1200];
    snprintf(path, sizeof path, "%s/rss092_weblabor-hu_iso-8859-2_doctype.xml", dir);
    size_t len = 0;
    char *data = read_doc(path, &len);
    CHECK(data != NULL);
    CHECK(strstr(data, "<!DOCTYPE") != NULL);
    struct feed *f = NULL;
    char err[200];
    int rc = feed_parse(data, len, "http://weblabor.hu/rss", NULL, NULL, &f, err, sizeof err);
    free(data);
    CHECK_INT(rc, 0);
    CHECK_STR(f->language, "hu");
    CHECK_CONTAINS(f->items[0].title, "fejlesztői között");
    feed_free(f);
}

int main(void)
{
    RUN(corpus_every_feed);
    RUN(corpus_gzip_body_is_refused_raw);
    RUN(corpus_doctype_entities_not_fetched);
    xmlCleanupParser();
    return check_summary();
}
