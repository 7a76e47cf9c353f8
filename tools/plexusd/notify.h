/* plexusd: telling systemd (Type=notify) where the daemon is in its life. Every call is a
 * no-op when NOTIFY_SOCKET is not set, as when plexusd runs outside systemd. */
#ifndef PX_PLEXUSD_NOTIFY_H
#define PX_PLEXUSD_NOTIFY_H

/** READY=1 with MAINPID: the daemon serves (single process: started; master: every worker
 *  reported ready). status is a line `systemctl status` shows. */
void px_plexusd_notify_ready(const char *status);
/** RELOADING=1: a reload (SIGHUP) began; px_plexusd_notify_ready ends it. */
void px_plexusd_notify_reloading(void);
/** STOPPING=1: a SIGTERM or SIGINT began the drain. */
void px_plexusd_notify_stopping(void);
/** In a child that must not speak for the service (a worker): forgets NOTIFY_SOCKET. */
void px_plexusd_notify_forget(void);

#endif
