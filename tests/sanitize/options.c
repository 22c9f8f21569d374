/* The sanitizers' default options, compiled into every program of the
 * sanitizer build (-DAFSIM_SANITIZE=ON) and the fuzz build (-DAFSIM_FUZZ=ON).
 * The runtimes read these first, then ASAN_OPTIONS, UBSAN_OPTIONS and
 * LSAN_OPTIONS from the environment, which add to or override them. Being
 * compiled in, they hold in every process whatever its environment:
 * Criterion's per-test children and the afsim binary that tests start. */

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__lsan_default_options(void);

#ifndef AFSIM_SAN_FUZZ
/* The sanitizer build.
 * - abort_on_error: a report ends the process with SIGABRT, not exit(1).
 *   Criterion counts a test child killed by a signal as a crash, and a test
 *   that starts the afsim binary sees a signal where it expects a status.
 *   A leak found when a passing test's child exits would otherwise only
 *   change that child's exit status, which Criterion ignores (checked with
 *   a planted leak: the run passed).
 * - fast_unwind_on_malloc=0: whole stacks for every allocation, also
 *   through libraries without frame pointers (HDF5, Criterion), so that a
 *   leak report says who allocated and tests/sanitize/lsan.supp can match a
 *   Criterion function far up the stack.
 * - print_suppressions=0: no list of the suppressions used at exit, since
 *   tests/sanitize/run.sh takes any output in its report folder for a
 *   report.
 * - intercept_tls_get_addr=0: clang 14's leak checker, tracking dynamic TLS
 *   through __tls_get_addr on glibc 2.36, read a garbage range for the
 *   block of a module libomp loads with dlopen ("DTLS 11 at
 *   0x13d7-0x200024d9") and its tracer died of SIGSEGV at exit ("Tracer
 *   caught signal 11"): in one test process (learning's AM-DRL without
 *   communication), depending on the heap's layout, from 2026-12-06. Without
 *   the interceptor the checker scans TLS as glibc lays it out; that run
 *   reports no leak and no crash. */
#define AFSIM_SAN_COMMON "abort_on_error=1:"
#define AFSIM_SAN_ASAN "fast_unwind_on_malloc=0:intercept_tls_get_addr=0:"
#define AFSIM_SAN_LSAN "print_suppressions=0:"
#else
/* The fuzz build: libFuzzer catches the reports itself and writes the input
 * as crash-*. An impossible allocation returns NULL, as glibc's malloc
 * does, instead of being a report: HDF5 allocates sizes that it reads from
 * a malformed file (up to 2^64 bytes) and fails cleanly on NULL. */
#define AFSIM_SAN_COMMON ""
#define AFSIM_SAN_ASAN "allocator_may_return_null=1:"
#define AFSIM_SAN_LSAN ""
#endif

const char *__asan_default_options(void)
{
    return AFSIM_SAN_COMMON AFSIM_SAN_ASAN
        "detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:"
        "strict_init_order=1:strict_string_checks=1:print_summary=1";
}

/* -fno-sanitize-recover=all already stops at the first report; the stack
 * says where. */
const char *__ubsan_default_options(void)
{
    return AFSIM_SAN_COMMON "halt_on_error=1:print_stacktrace=1";
}

/* Leaks that are the libraries' own, not afsim's: each suppression is
 * explained in tests/sanitize/lsan.supp, the one file of both builds. */
const char *__lsan_default_options(void)
{
    return AFSIM_SAN_LSAN "suppressions=" AFSIM_SAN_SUPPRESSIONS;
}
