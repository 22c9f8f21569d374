/* Stop requests from signals (SIGINT, SIGTERM, SIGHUP): the orchestrator's
 * one piece of global state, counted by the handler and read by the loops
 * of afsim run and afsim train; never cleared (a signal that comes before a
 * run starts still stops it). */
#ifndef AFS_STOP_H
#define AFS_STOP_H

/* Asks the running loop to stop after its current episode; a second call
 * stops it at once (async-signal-safe). */
void afs_stop_request(void);
/* 0: go on; 1: stop after the episode; 2: stop at once. */
int afs_stop_level(void);

#endif
