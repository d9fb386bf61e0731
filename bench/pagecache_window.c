/* The independent-write window of bench/mpio.sh without MPI and without HDF5, for bench/pagecache-window.sh:
 * RANKS processes (fork) each make one pwrite of MIB MiB at its own block of one shared file (at 1 MiB +
 * rank * MIB MiB, as mpio-test's independent dataset and the raw baseline's independent region) and then an
 * fsync; the window runs from the parent's clock before the forks to the last child's exit (the slowest rank
 * counts). Before it, the page cache of another file of the same size (written, synced) is freed (its
 * unlink), as bench/mpio.sh's previous command frees its file, and the window starts PAUSE_MS later: soon
 * after the free the writes get memory that was in use a moment ago; later, once other processes have taken
 * that memory, whatever else the kernel hands out, on this VM memory that has been free for a while.
 * On this Firecracker VM (virtio_balloon with free page reporting) a write into memory that has not been in
 * use for a while costs 3-5x the CPU inside the pwrite (likely the host faulting the pages in again; not
 * proven). bench/mpio.sh's commands run one after another, each deleting its
 * 257 MiB file at the end, so how much of a command's page cache is recycled memory depends on how soon after
 * the previous command its writes come.
 * Prints one line: "window_ms pwrite_cpu_ms_sum pwrite_cpu_ms_max" (pwrite CPU: each child's thread CPU
 * inside its pwrite).
 * usage: pagecache_window FILE MIB RANKS PAUSE_MS   (FILE and FILE.freed are deleted) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double ms(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s FILE MIB RANKS PAUSE_MS\n", argv[0]);
        return 2;
    }
    size_t n = (size_t)atol(argv[2]) << 20;
    int ranks = atoi(argv[3]), pause_ms = atoi(argv[4]);
    char freed[4096];
    snprintf(freed, sizeof freed, "%s.freed", argv[1]);
    char *buf = malloc(n);
    memset(buf, 3, n);
    int other = open(freed, O_RDWR | O_CREAT | O_TRUNC, 0600);
    for (int r = 0; r < ranks; r++)
        if (other < 0 || pwrite(other, buf, n, (off_t)r * (off_t)n) != (ssize_t)n) { perror(freed); return 1; }
    fdatasync(other);
    close(other);
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { perror(argv[1]); return 1; }
    fsync(fd); /* the new file is on disk before the clock, as both MPI programs make sure */
    double *cpu = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    unlink(freed); /* its page cache is freed now */
    usleep((useconds_t)pause_ms * 1000);
    double t0 = ms(CLOCK_MONOTONIC);
    for (int r = 0; r < ranks; r++) {
        if (fork() == 0) {
            double c = ms(CLOCK_THREAD_CPUTIME_ID);
            if (pwrite(fd, buf, n, ((off_t)1 << 20) + (off_t)r * (off_t)n) != (ssize_t)n) _exit(1);
            cpu[r] = ms(CLOCK_THREAD_CPUTIME_ID) - c;
            _exit(fsync(fd) != 0);
        }
    }
    int failed = 0, status;
    for (int r = 0; r < ranks; r++) {
        wait(&status);
        failed |= !WIFEXITED(status) || WEXITSTATUS(status);
    }
    double window = ms(CLOCK_MONOTONIC) - t0, sum = 0, max = 0;
    for (int r = 0; r < ranks; r++) {
        sum += cpu[r];
        if (cpu[r] > max) max = cpu[r];
    }
    close(fd);
    unlink(argv[1]);
    if (failed) { fprintf(stderr, "a writer failed\n"); return 1; }
    printf("%.1f %.1f %.1f\n", window, sum, max);
    return 0;
}
