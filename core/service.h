/*
 * service — telling a service manager how herald is doing, through the sd_notify protocol
 * (systemd Type=notify): READY=1 once the config is loaded and the store open, STATUS=
 * lines with sources, rules and the last alert, RELOADING=1/READY=1 around a reload,
 * STOPPING=1 on the way out, and WATCHDOG=1 keep-alives when the unit sets WatchdogSec=.
 * Without $NOTIFY_SOCKET every call is a no-op.
 */
#ifndef HERALD_SERVICE_H
#define HERALD_SERVICE_H

struct herald;

/* Start the status/watchdog timer and send READY=1 with a first STATUS=. */
void service_ready(struct herald *h);
/* A reload begins (RELOADING=1) or ended (READY=1 with a new STATUS=). */
void service_reloading(struct herald *h, int done);
/* STOPPING=1, and stop the timer (its handle is closed by the caller's teardown). */
void service_stopping(struct herald *h);

#endif
