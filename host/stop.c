#include "stop.h"

#include <signal.h>

static volatile sig_atomic_t level;

void afs_stop_request(void)
{
    if (level < 2)
        level++;
}

int afs_stop_level(void) { return level; }
