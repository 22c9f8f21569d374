#include "memory.h"

#include <stdio.h>

#include "core/fail.h"

double afs_mib(double bytes) { return bytes / (1024.0 * 1024.0); }

int afs_memory_check(afs_backend *b, double on_backend, double on_host, const char *detail,
                     const char *hint, int verbose, char *err, size_t n)
{
    afs_backend *probe = b->host_memory ? b : afs_backend_cpu_create(1);
    double host_have = probe ? probe->memory_budget(probe) : 1e300;
    if (probe && probe != b)
        probe->destroy(probe);
    if (b->host_memory) {
        on_host += on_backend;
        on_backend = 0.0;
    }
    if (verbose)
        fprintf(stderr, "afsim: memory: %.1f MiB on the %s backend, %.1f MiB on the host (%s)\n",
                afs_mib(on_backend), b->name, afs_mib(on_host), detail);
    if (on_backend > 0.9 * b->memory_budget(b))
        return afs_fail(err, n, "this run needs %.0f MiB on the %s backend (%s), more than 90%% of "
                        "its %.0f MiB free: %s", afs_mib(on_backend), b->name, detail,
                        afs_mib(b->memory_budget(b)), hint);
    if (on_host > 0.8 * host_have)
        return afs_fail(err, n, "this run needs %.0f MiB of host memory (%s), more than 80%% of "
                        "this machine's %.0f MiB: %s", afs_mib(on_host), detail,
                        afs_mib(host_have), hint);
    return 0;
}
