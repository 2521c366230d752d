/*
 * render — notifier templates written as Lua functions (`template = function(alert) … end`
 * for a HERALD_OPT_TEMPLATE option). At each delivery the outbox runs them in the config's
 * Lua state, under an instruction budget, with the same alert table Lua notifier types get;
 * their results reach the plugin as alert->rendered, filling its "{{lua:OPTION}}".
 */
#ifndef HERALD_RENDER_H
#define HERALD_RENDER_H

#include "config.h"

#include <herald/plugin.h>

/* The results of one notifier's template functions for one alert; owned here. */
struct render_set {
    struct herald_rendered *v;
    size_t n;
};

/* 1 when notifier `c` has any template written as a function. */
int render_needed(const struct cfg_notifier *c);

/* Run the template functions of notifier `c` (of config `cfg`) for alert `al`. Returns 0
 * and fills *out, or -1 with "'option' function: …" in err when one raised an error, ran
 * out of budget or returned something other than a string or a number. */
int render_alert(const struct config *cfg, const struct cfg_notifier *c,
                 const struct herald_alert *al, struct render_set *out, char *err, size_t errlen);

/* Release what render_alert filled (a zeroed set is fine). */
void render_set_free(struct render_set *r);

#endif
