/* LD_PRELOAD library for bench/mpio-phases.sh: records, in each process, every call to MPI_Wtime (both
 * mpio-test and bench/mpiio_baseline.c read the clock with it exactly at the start and the end of each timed
 * phase) and every pread/pwrite (and the v forms) of at least 1 MiB and every fsync, with the wall time
 * (CLOCK_MONOTONIC) and the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID) around the call. Printed to
 * stderr at exit, one event a line:
 *   PHASE pid W t_ms
 *   PHASE pid IO op bytes offset start_ms wall_ms cpu_ms
 * Built with `cc -shared -fPIC` by the script; never part of h5doctor. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static double ms(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}
static char log_[1 << 18];
static size_t used;
#define LOG(...) \
    do { if (used < sizeof log_ - 256) used += (size_t)snprintf(log_ + used, sizeof log_ - used, __VA_ARGS__); } while (0)
__attribute__((destructor)) static void dump(void) {
    if (used && write(2, log_, used) < 0) { /* nothing to do */ }
}
static void io(const char *op, size_t n, long off, double w0, double c0) {
    LOG("PHASE %d IO %s %zu %ld %.3f %.3f %.3f\n", getpid(), op, n, off, w0, ms(CLOCK_MONOTONIC) - w0,
        ms(CLOCK_THREAD_CPUTIME_ID) - c0);
}
/* The next definition of the function `name` (of function type `type`), looked up once. */
#define NEXT(name, type) static __typeof__(type) *f; if (!f) f = (__typeof__(type) *)dlsym(RTLD_NEXT, name)

double MPI_Wtime(void) {
    NEXT("MPI_Wtime", double(void));
    double t = f();
    LOG("PHASE %d W %.3f\n", getpid(), ms(CLOCK_MONOTONIC));
    return t;
}
ssize_t pread64(int fd, void *b, size_t n, off_t o) {
    NEXT("pread64", ssize_t(int, void *, size_t, off_t));
    if (n < (1 << 20)) return f(fd, b, n, o);
    double w0 = ms(CLOCK_MONOTONIC), c0 = ms(CLOCK_THREAD_CPUTIME_ID);
    ssize_t r = f(fd, b, n, o);
    io("pread", n, (long)o, w0, c0);
    return r;
}
ssize_t pread(int fd, void *b, size_t n, off_t o) { return pread64(fd, b, n, o); }
ssize_t pwrite64(int fd, const void *b, size_t n, off_t o) {
    NEXT("pwrite64", ssize_t(int, const void *, size_t, off_t));
    if (n < (1 << 20)) return f(fd, b, n, o);
    double w0 = ms(CLOCK_MONOTONIC), c0 = ms(CLOCK_THREAD_CPUTIME_ID);
    ssize_t r = f(fd, b, n, o);
    io("pwrite", n, (long)o, w0, c0);
    return r;
}
ssize_t pwrite(int fd, const void *b, size_t n, off_t o) { return pwrite64(fd, b, n, o); }
static size_t total(const struct iovec *v, int c) {
    size_t n = 0;
    for (int i = 0; i < c; i++) n += v[i].iov_len;
    return n;
}
ssize_t preadv(int fd, const struct iovec *v, int c, off_t o) {
    NEXT("preadv", ssize_t(int, const struct iovec *, int, off_t));
    size_t n = total(v, c);
    if (n < (1 << 20)) return f(fd, v, c, o);
    double w0 = ms(CLOCK_MONOTONIC), c0 = ms(CLOCK_THREAD_CPUTIME_ID);
    ssize_t r = f(fd, v, c, o);
    io("pread", n, (long)o, w0, c0);
    return r;
}
ssize_t pwritev(int fd, const struct iovec *v, int c, off_t o) {
    NEXT("pwritev", ssize_t(int, const struct iovec *, int, off_t));
    size_t n = total(v, c);
    if (n < (1 << 20)) return f(fd, v, c, o);
    double w0 = ms(CLOCK_MONOTONIC), c0 = ms(CLOCK_THREAD_CPUTIME_ID);
    ssize_t r = f(fd, v, c, o);
    io("pwrite", n, (long)o, w0, c0);
    return r;
}
int fsync(int fd) {
    NEXT("fsync", int(int));
    double w0 = ms(CLOCK_MONOTONIC), c0 = ms(CLOCK_THREAD_CPUTIME_ID);
    int r = f(fd);
    io("fsync", 0, 0, w0, c0);
    return r;
}
