/* AFSIM_REQUIRE_GPU=1 turns a CUDA test's "no device: skipped" into a
 * failure, so that a GPU machine whose CUDA, cuBLAS or cuDNN cannot start
 * shows red rather than green (Criterion counts a skip as a pass). Checked
 * by running one CUDA test of this very binary in a child process, with and
 * without the switch: without it the test passes or skips (exit 0); with it
 * the run fails exactly when no CUDA backend can be created here. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/backend.h"

extern char **environ;

#define CUDA_TEST "cuda_nn_parity/empty_work_is_a_no_op"

/* Exit status of this test binary running CUDA_TEST alone, with
 * AFSIM_REQUIRE_GPU set to `require` (NULL: unset). */
static int run_child(const char *require)
{
    char self[4096], setting[64];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt(len, 0);
    self[len] = 0;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof *env);
    size_t k = 0;
    /* BXFI_*: Criterion's sandbox marks its workers so; a child that kept
     * it would take itself for one. */
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "AFSIM_REQUIRE_GPU=", 18) && strncmp(environ[i], "BXFI_", 5))
            env[k++] = environ[i];
    if (require) {
        snprintf(setting, sizeof setting, "AFSIM_REQUIRE_GPU=%s", require);
        env[k++] = setting;
    }
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        FILE *out = freopen("/dev/null", "w", stdout), *errs = freopen("/dev/null", "w", stderr);
        if (!out || !errs) /* then the child's noise reaches the test's streams: harmless */
            fprintf(stderr, "require_gpu: cannot silence the child\n");
        execle(self, self, "--filter", CUDA_TEST, "--jobs", "1", (char *)NULL, env);
        _exit(127);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    free(env);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(require_gpu, the_switch_turns_a_missing_device_into_a_failure, .timeout = 120)
{
    char why[512] = "";
    afs_backend *g = afs_cuda_built() ? afs_backend_cuda_create(why, sizeof why) : NULL;
    int have_gpu = g != NULL;
    if (g)
        g->destroy(g);
    cr_assert_eq(run_child(NULL), 0, "without the switch a missing device is a skip");
    cr_assert_eq(run_child("0"), 0, "AFSIM_REQUIRE_GPU=0 is the same as unset");
    int with = run_child("1");
    if (have_gpu)
        cr_assert_eq(with, 0, "a usable device: the CUDA test runs and passes");
    else
        cr_assert_neq(with, 0, "no usable device (%s) and AFSIM_REQUIRE_GPU=1: must fail", why);
}
