/*
 * service — sd_notify from libsystemd. The STATUS= line is refreshed on a timer (every 10 s,
 * or at half the watchdog interval when that is shorter) rather than on every event, so a
 * busy herald does not flood the service manager; the same tick carries WATCHDOG=1, which
 * therefore stops when the loop hangs — exactly what a watchdog should notice.
 */
#include "service.h"

#include "herald.h"

#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

enum { STATUS_EVERY_MS = 10000 };

static void send_status(struct herald *h, const char *extra)
{
    char last[96] = "none yet";
    if (h->stats.alerts) snprintf(last, sizeof last, "%lu this run", h->stats.alerts);
    sd_notifyf(0,
               "%sSTATUS=%zu sources, %zu rules, %zu notifiers; %lu fetches, %lu new items, "
               "alerts: %s; %lu delivered, %zu deliveries in flight",
               extra ? extra : "", h->n_sources, h->cfg ? h->cfg->n_rules : 0, h->n_notifiers,
               h->stats.fetches, h->stats.items_new, last, h->stats.delivered,
               h->deliveries_in_flight);
}

static void on_tick(uv_timer_t *t)
{
    struct herald *h = t->data;
    send_status(h, h->watchdog_usec ? "WATCHDOG=1\n" : NULL);
}

void service_ready(struct herald *h)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0) h->watchdog_usec = usec;
    uint64_t every = STATUS_EVERY_MS;
    if (h->watchdog_usec && h->watchdog_usec / 2000 < every) every = h->watchdog_usec / 2000;
    if (every == 0) every = 1;
    if (getenv("NOTIFY_SOCKET")) uv_timer_start(&h->service_timer, on_tick, every, every);
    send_status(h, "READY=1\n");
}

void service_reloading(struct herald *h, int done)
{
    if (!done) {
        sd_notify(0, "RELOADING=1");
        return;
    }
    send_status(h, "READY=1\n");
}

void service_stopping(struct herald *h)
{
    uv_timer_stop(&h->service_timer);
    sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}
