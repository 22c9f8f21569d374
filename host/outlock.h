/* Ownership of an output file for the whole life of a run: a lock of
 * afsim's own on PATH.lock (flock), independent of HDF5's file locking
 * (often switched off on clusters with HDF5_USE_FILE_LOCKING=FALSE), taken
 * before the output is created or replaced and held until the run ends. A
 * second run on the same output is refused, --force or not, with a message
 * that names the first (pid, host, start, command line); so it can never
 * damage the first one's file. The kernel drops the lock when its process
 * dies, SIGKILL included: a lock file left by a killed run is taken over. */
#ifndef AFS_OUTLOCK_H
#define AFS_OUTLOCK_H

#include <stddef.h>

typedef struct afs_outlock {
    int fd;          /* -1 when not held */
    char path[1100]; /* PATH.lock */
} afs_outlock;

/* Takes the lock of output path for the run described by `what` (its
 * command line, shown to a second run). 0, or -1 with err naming the run
 * that holds it or the system's reason. */
int afs_outlock_take(afs_outlock *l, const char *path, const char *what, char *err, size_t n);
/* Opens (creating) a lock file at path: never through a symbolic link nor
 * anything but a regular file, since the holder writes it. The file
 * descriptor, or -1 with err. */
int afs_outlock_open(const char *path, char *err, size_t n);
/* The description (pid, host, start, command line) that the run holding
 * output path's lock wrote in it, into buf: 1, or 0 when there is no lock
 * file. The lock is not tested (trying it, even shared, could make a run
 * taking it at that moment fail); a holder removes its file before it lets
 * go, so a file there is a run's, or one that a crash left. */
int afs_outlock_holder(const char *path, char *buf, size_t n);
/* Removes the lock file and drops the lock (nothing when not held). */
void afs_outlock_drop(afs_outlock *l);

#endif
