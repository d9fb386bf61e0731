/* Raw MPI-IO baseline for bench/mpio.sh: the same bytes, pattern and boundaries as `h5doctor mpio-test`
 * without HDF5. One shared file, created empty (mpio-test: H5Fcreate with H5F_ACC_TRUNC) and opened once
 * for both modes; two regions one after the other, each size*MIB-per-rank, the first at 1 MiB (where
 * mpio-test's 1 MiB-aligned datasets start): the collective one (write_at_all, read_at_all) then the
 * independent one (write_at, read_at); each rank its own contiguous block of each region; MPI_File_sync
 * after each write inside the timed write (mpio-test: H5Dwrite + H5Fflush); the read follows on the same
 * handle (mpio-test: H5Dread); barriers around each phase; the slowest rank counts.
 * After the independent read (so that the phases up to then are mpio-test's, in its order), the collective
 * region is read once more the way HDF5 1.10's mpio driver reads raw data collectively (H5FD__mpio_read): MPI_File_set_view at the region's start with a derived
 * filetype holding this rank's block, MPI_File_read_at_all at offset 0, the view reset to bytes. That path
 * is HDF5's own, not h5doctor's: bench/mpio.sh shows mpio-test's collective read against both.
 * Before any clock the new file is synced (mpio-test: H5Fflush after H5Dcreate2), and before each read the
 * buffer is overwritten (mpio-test fills it with NaN to check the read-back).
 * With "presize" as third argument the file is first sized to the end of the second region with
 * MPI_File_set_size (and synced), before any clock starts, as HDF5's mpio driver leaves mpio-test's file
 * (H5Dcreate2 with early allocation + H5Fflush: ftruncate to the end of the allocated space, fsync), so
 * the writes go into a sparse, pre-sized file instead of extending an empty one.
 * With "view" as third argument the collective write and read themselves go through that file-view path
 * (HDF5's collective transfer in raw MPI-IO, for both directions).
 * Prints one line: "coll_write_mib_s coll_read_mib_s ind_write_mib_s ind_read_mib_s coll_read_view_mib_s".
 * usage: mpiio_baseline FILE MIB_PER_RANK [presize|view]   (the file is deleted at the end) */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA_START ((MPI_Offset)1 << 20)

/* One collective transfer the way HDF5 1.10's mpio driver makes it (H5FD__mpio_write/read): a file view
 * (displacement: the region's start; filetype: this rank's block as a derived type), *_at_all at 0, the view
 * reset to bytes. Under ROMIO the derived filetype also takes its strided path (ADIOI_GEN_WriteStrided: an
 * fcntl lock around the pwrite, seen with strace), not the contiguous one of a plain write_at_all. */
static int viewed(MPI_File fh, MPI_Offset region, int rank, char *buf, MPI_Offset n, int write) {
    int len = (int)n;
    MPI_Aint disp = (MPI_Aint)rank * n;
    MPI_Datatype ft;
    MPI_Type_create_hindexed(1, &len, &disp, MPI_BYTE, &ft);
    MPI_Type_commit(&ft);
    int rc = MPI_File_set_view(fh, region, MPI_BYTE, ft, "native", MPI_INFO_NULL);
    if (rc == MPI_SUCCESS)
        rc = write ? MPI_File_write_at_all(fh, 0, buf, len, MPI_BYTE, MPI_STATUS_IGNORE)
                   : MPI_File_read_at_all(fh, 0, buf, len, MPI_BYTE, MPI_STATUS_IGNORE);
    if (rc == MPI_SUCCESS) rc = MPI_File_set_view(fh, 0, MPI_BYTE, MPI_BYTE, "native", MPI_INFO_NULL);
    MPI_Type_free(&ft);
    return rc;
}

/* coll: 0 independent, 1 collective, 2 collective through a file view as HDF5 does it. */
static double phase(MPI_File fh, MPI_Offset region, int rank, char *buf, MPI_Offset n, int coll, int write) {
    /* Before a read the buffer is overwritten, as mpio-test fills its buffer with NaN before H5Dread (it
     * then checks what was read): the same pages, touched the same way, before the clock. */
    if (!write) memset(buf, 0xff, (size_t)n);
    MPI_Barrier(MPI_COMM_WORLD);
    double t = MPI_Wtime();
    MPI_Offset off = region + (MPI_Offset)rank * n;
    int rc;
    if (coll == 2)
        rc = viewed(fh, region, rank, buf, n, write);
    else if (write)
        rc = coll ? MPI_File_write_at_all(fh, off, buf, (int)n, MPI_BYTE, MPI_STATUS_IGNORE)
                  : MPI_File_write_at(fh, off, buf, (int)n, MPI_BYTE, MPI_STATUS_IGNORE);
    else
        rc = coll ? MPI_File_read_at_all(fh, off, buf, (int)n, MPI_BYTE, MPI_STATUS_IGNORE)
                  : MPI_File_read_at(fh, off, buf, (int)n, MPI_BYTE, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) MPI_Abort(MPI_COMM_WORLD, 3);
    if (write) MPI_File_sync(fh);
    double dt = MPI_Wtime() - t, max;
    MPI_Allreduce(&dt, &max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return max;
}

/* The collective region read once more through HDF5's file-view path, after the independent read. */
static double view_read(MPI_File fh, MPI_Offset region, int rank, char *buf, MPI_Offset n) {
    return phase(fh, region, rank, buf, n, 2, 0);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int presize = argc == 4 && !strcmp(argv[3], "presize"), view = argc == 4 && !strcmp(argv[3], "view");
    if (argc != 3 && !presize && !view) {
        if (!rank) fprintf(stderr, "usage: %s FILE MIB_PER_RANK [presize|view]\n", argv[0]);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    MPI_Offset n = (MPI_Offset)atol(argv[2]) << 20;
    char *buf = malloc((size_t)n);
    memset(buf, rank + 1, (size_t)n);
    double mib = (double)(n >> 20) * size, r[4], again = 0;
    if (!rank) MPI_File_delete(argv[1], MPI_INFO_NULL);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_File fh;
    if (MPI_File_open(MPI_COMM_WORLD, argv[1], MPI_MODE_CREATE | MPI_MODE_RDWR, MPI_INFO_NULL, &fh) != MPI_SUCCESS)
        MPI_Abort(MPI_COMM_WORLD, 4);
    /* mpio-test flushes the new file (superblock, object headers: H5Fflush, i.e. MPI_File_sync) before any
     * clock starts: the file's creation is on disk before the timed phases, so the first timed sync does not
     * also commit it (and whatever else the file system's journal holds, such as freeing the previous run's
     * file). The same here. */
    if (presize && MPI_File_set_size(fh, DATA_START + 2 * n * size) != MPI_SUCCESS) MPI_Abort(MPI_COMM_WORLD, 6);
    if (MPI_File_sync(fh) != MPI_SUCCESS) MPI_Abort(MPI_COMM_WORLD, 6);
    for (int coll = 1, i = 0; coll >= 0; coll--, i += 2) {
        MPI_Offset region = DATA_START + (coll ? 0 : n * size);
        int how = coll && view ? 2 : coll;
        r[i] = mib / phase(fh, region, rank, buf, n, how, 1);
        r[i + 1] = mib / phase(fh, region, rank, buf, n, how, 0);
    }
    /* After both modes, not between them: mpio-test does nothing between its collective read and its
     * independent write (round 8: the extra 128 MiB read there made the baseline's phase sequence differ
     * from mpio-test's, and gave the disk that much more time after the collective write's sync). */
    again = mib / view_read(fh, DATA_START, rank, buf, n);
    MPI_File_close(&fh);
    if (!rank) {
        printf("%.1f %.1f %.1f %.1f %.1f\n", r[0], r[1], r[2], r[3], again);
        MPI_File_delete(argv[1], MPI_INFO_NULL);
    }
    free(buf);
    MPI_Finalize();
    return 0;
}
