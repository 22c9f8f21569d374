#define _DEFAULT_SOURCE /* flock, gethostname */
#include "outlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fail.h"

/* What the holder wrote into the lock file, for the refusal. */
static void holder_of(int fd, char *buf, size_t n)
{
    ssize_t len = pread(fd, buf, n - 1, 0);
    buf[len > 0 ? len : 0] = 0;
    buf[strcspn(buf, "\n")] = 0;
    if (!buf[0])
        snprintf(buf, n, "a run that has not written its name yet");
}

int afs_outlock_open(const char *path, char *err, size_t n)
{
    /* Never through a link nor into anything but a regular file: the
     * holder truncates and writes it (a link to /etc/passwd, a device).
     * O_NONBLOCK: a FIFO there must not hang the open. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    struct stat st;
    if (fd < 0)
        return afs_fail(err, n, "cannot create the lock file %s: %s%s", path, strerror(errno),
                        errno == ELOOP ? " (a symbolic link there: remove it)" : "");
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return afs_fail(err, n, "the lock file %s is not a regular file: remove it", path);
    }
    return fd;
}

int afs_outlock_holder(const char *path, char *buf, size_t n)
{
    char lock[1100];
    snprintf(lock, sizeof lock, "%s.lock", path);
    int fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0)
        return 0;
    int regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (regular)
        holder_of(fd, buf, n);
    close(fd);
    return regular;
}

int afs_outlock_take(afs_outlock *l, const char *path, const char *what, char *err, size_t n)
{
    l->fd = -1;
    if ((size_t)snprintf(l->path, sizeof l->path, "%s.lock", path) >= sizeof l->path)
        return afs_fail(err, n, "%s: the name is too long for its lock file", path);
    /* The holder removes the file before it lets go: a file locked but no
     * longer at the path is a stale one, and the next attempt starts over. */
    for (int attempt = 0; attempt < 100; attempt++) {
        char why[1200];
        int fd = afs_outlock_open(l->path, why, sizeof why);
        if (fd < 0)
            return afs_fail(err, n, "%s: %s", path, why);
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            char holder[512];
            holder_of(fd, holder, sizeof holder);
            close(fd);
            if (e == EWOULDBLOCK)
                return afs_fail(err, n, "%s is the output of another run still going (%s): wait "
                                "for it to end, or choose another --out (--force does not "
                                "take a file from a running run)", path, holder);
            return afs_fail(err, n, "%s: cannot lock %s: %s", path, l->path, strerror(e));
        }
        struct stat held, now;
        if (fstat(fd, &held) == 0 && stat(l->path, &now) == 0 && held.st_dev == now.st_dev &&
            held.st_ino == now.st_ino) {
            char host[256] = "?", when[32], line[1024];
            time_t t = time(NULL);
            struct tm tm;
            gethostname(host, sizeof host - 1);
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
            int len = snprintf(line, sizeof line, "pid %ld on %s since %s: %s\n", (long)getpid(),
                               host, when, what);
            if (len >= (int)sizeof line) { /* a long command line, cut */
                len = (int)sizeof line - 1;
                line[len - 1] = '\n';
            }
            if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)len, 0) != len) {
                /* The lock holds without its description; say why not. */
                fprintf(stderr, "afsim: %s: cannot describe the run in its lock file: %s\n",
                        l->path, strerror(errno));
            }
            l->fd = fd;
            return 0;
        }
        close(fd); /* removed by its last holder meanwhile: try the new one */
    }
    return afs_fail(err, n, "%s: cannot take the lock %s: it keeps being replaced", path, l->path);
}

void afs_outlock_drop(afs_outlock *l)
{
    if (l->fd < 0)
        return;
    unlink(l->path);
    close(l->fd);
    l->fd = -1;
}
