# h5doctor mpio-test --python: the MPI-IO test of h5doctor-probe-mpio, run through the user's interpreter
# the way a parallel h5py program runs: mpi4py's COMM_WORLD and h5py.File(..., driver='mpio', comm=...).
#
# argv: FILE MIB_PER_RANK [before-mpi-init]. With "before-mpi-init" the script stops after the "pre" record
# (h5doctor's re-run of the imports in the environment of a module fix). FILE is a unique name h5doctor picked and registered for removal in the target
# directory; MPI rank 0's FILE is the one used (broadcast), so the h5doctor process that started rank 0
# removes it even when this interpreter is killed.
#
# Output: lines "H5DOCTOR-MPIO-PY <json>" on stdout. Stage "pre" comes before MPI_Init (what was
# imported, from where, and which MPI libraries are mapped), so a library that aborts the process in
# MPI_Init still leaves its evidence; stage "result" is printed by MPI rank 0 after the test, "done" by
# the others. Around MPI_Init, lines "H5DOCTOR-MPIO-PY-PHASE mpi_init" and "... mpi_init_returned": h5doctor
# does not kill the interpreter in between (see phase()). Nothing but FILE is written (no __pycache__: h5doctor sets PYTHONDONTWRITEBYTECODE).
import json, os, socket, sys, time, traceback, warnings

MARK = "H5DOCTOR-MPIO-PY "
path, mib_per_rank = sys.argv[1], int(sys.argv[2])


def on_sigterm(signum, frame):
    # h5doctor died (its death signal) or is ending us: our own name is the one file that may exist
    # (rank 0's name is the one in use; another rank's was never created).
    try:
        os.remove(sys.argv[1])
    except OSError:
        pass
    os._exit(128 + signum)


import signal
signal.signal(signal.SIGTERM, on_sigterm)
out = {"stage": "pre", "python_version": sys.version.split()[0], "executable": sys.executable, "warnings": []}


def emit(record):
    sys.stdout.flush()
    sys.stdout.write("\n" + MARK + json.dumps(record) + "\n")
    sys.stdout.flush()


def last_line(e):
    text = str(e).strip().splitlines()
    return "%s: %s" % (type(e).__name__, text[-1]) if text else type(e).__name__


def fail(step, e):
    out["failed_step"] = step
    out["error"] = last_line(e)
    out["traceback"] = traceback.format_exc()
    emit(out)
    sys.exit(0)


class Pmix:
    """The PMIx client the MPI library already loaded (ctypes, RTLD_NOLOAD: nothing is loaded here), for
    the key the test shares outside MPI, as h5doctor-probe-mpio does (same key). Layouts of PMIx 2-5:
    pmix_proc_t 260 bytes, pmix_value_t 32 (data at 8), pmix_info_t 552 (value at 520); PMIX_BOOL 1,
    PMIX_UINT32 14, PMIX_GLOBAL 3, PMIX_ERR_NOT_FOUND -46."""

    NOT_FOUND = -46

    @staticmethod
    def of_this_process():
        import ctypes
        nspace = os.environ.get("PMIX_NAMESPACE")
        for name in ("libpmix.so.2", "libpmix.so"):
            try:
                lib = ctypes.CDLL(name, mode=os.RTLD_NOW | os.RTLD_NOLOAD)
                break
            except OSError:
                lib = None
        if lib is None or not nspace:
            return None
        lib.PMIx_Initialized.restype = ctypes.c_bool
        return Pmix(ctypes, lib, nspace) if lib.PMIx_Initialized() else None

    def __init__(self, ctypes, lib, nspace):
        self.c, self.lib, self.nspace = ctypes, lib, nspace

        class Value(ctypes.Structure):
            _fields_ = [("kind", ctypes.c_uint16), ("data", ctypes.c_uint64 * 3)]

        class Proc(ctypes.Structure):
            _fields_ = [("nspace", ctypes.c_char * 256), ("rank", ctypes.c_uint32)]

        class Info(ctypes.Structure):
            _fields_ = [("key", ctypes.c_char * 512), ("flags", ctypes.c_uint32), ("value", Value)]

        self.Value, self.Proc = Value, Proc
        self.refresh = Info(b"pmix.get.refresh", 0, Value(1, (ctypes.c_uint64 * 3)(1, 0, 0)))
        self.free = ctypes.CDLL(None).free
        self.free.argtypes = [ctypes.c_void_p]

    def put(self, key):
        """Puts KEY = 1 (global scope) and commits it; whether PMIx took it."""
        c = self.c
        value = self.Value(14, (c.c_uint64 * 3)(1, 0, 0))
        return self.lib.PMIx_Put(c.c_uint8(3), key, c.byref(value)) == 0 and self.lib.PMIx_Commit() == 0

    def get(self, rank, key):
        """The PMIx status of reading KEY from RANK, asking its node again, not this node's cache."""
        c = self.c
        proc = self.Proc(self.nspace.encode()[:255], rank)
        got = c.c_void_p()
        rc = self.lib.PMIx_Get(c.byref(proc), key, c.byref(self.refresh), c.c_size_t(1), c.byref(got))
        if got.value:
            self.free(got)
        return rc


def announce_and_await_mpi_init(pmix, rank, size):
    """No MPI message before every rank has left MPI_Init (as h5doctor-probe-mpio does, same key): under
    Slurm's PMIx plugin (Slurm 22.05, PMIx 4.2, Open MPI 4.1) rank 0 was seen leaving MPI_Init while
    another rank still waited in its modex, and that rank died of SIGSEGV when rank 0's first message
    (the broadcast below) reached it before its MPI library had registered its receive handlers. Every
    rank puts a PMIx key once MPI_Init has returned; rank 0 reads every other rank's key before the
    broadcast (the others only receive first). Returns the seconds rank 0 waited, else None."""
    key = b"h5doctor.mpio.mpi_init_done"
    if not pmix.put(key) or rank != 0:
        return None
    waiting = time.time()
    for peer in range(1, size):
        while True:
            rc = pmix.get(peer, key)
            if rc == 0:
                break
            if rc != Pmix.NOT_FOUND:  # give up waiting (the test goes on as before)
                return None
            time.sleep(0.01)  # that rank is still inside MPI_Init (h5doctor's timeout bounds the wait)
    return time.time() - waiting


def mapped(pred):
    """Files mapped into this process whose base name satisfies pred, in load order."""
    seen = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                parts = line.split(None, 5)
                if len(parts) == 6:
                    p = parts[5].strip()
                    if p.startswith("/") and pred(os.path.basename(p)) and p not in seen:
                        seen.append(p)
    except OSError:
        pass
    return seen


def is_mpi(name):
    return (name.startswith("libmpi.so") or name.startswith("libmpi_abi.so") or name.startswith("libmpich.so")
            or name.startswith("libmpi_") and ".so" in name and not name.startswith("libmpi_cxx")
            and not name.startswith("libmpi_mpifh") and not name.startswith("libmpi_usempi"))


def is_hdf5(name):
    return name.startswith("libhdf5") and "_hl" not in name and "_cpp" not in name and "_fortran" not in name


with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        import numpy
        out["numpy_version"] = numpy.__version__
        out["numpy_file"] = numpy.__file__
    except BaseException as e:
        out["failed_import"] = "numpy"
        fail("import numpy", e)
    try:
        import h5py
        out["h5py_version"] = h5py.__version__
        out["h5py_file"] = h5py.__file__
    except BaseException as e:
        out["failed_import"] = "h5py"
        fail("import h5py", e)
    out["warnings"] = ["%s: %s" % (w.category.__name__, w.message) for w in caught]

h5 = sys.modules.get("h5py.h5")
if h5 is not None:
    out["h5py_module"] = h5.__name__.rsplit(".", 1)[0]
out["h5py_mpi"] = bool(h5py.get_config().mpi)
out["h5py_debian_mpi_build"] = os.path.isdir(os.path.join(os.path.dirname(h5py.__file__), "_debian_h5py_mpi"))
try:
    from h5py import version as v
    out["hdf5_version"] = v.hdf5_version
except Exception:
    pass
# h5py's MPI: what its extension modules mapped (mpi4py is not imported yet).
out["h5py_mpi_libraries"] = mapped(is_mpi)
out["loaded_hdf5"] = mapped(is_hdf5)

try:
    import mpi4py
except ImportError as e:
    out["mpi4py_missing"] = True
    fail("import mpi4py", e)
out["mpi4py_version"] = getattr(mpi4py, "__version__", None)
out["mpi4py_file"] = mpi4py.__file__
# MPI_Init is called below by hand, after the evidence is out: a library that cannot talk to this
# launcher aborts the process inside MPI_Init.
mpi4py.rc.initialize = False
mpi4py.rc.finalize = False
before = mapped(is_mpi)
try:
    from mpi4py import MPI
except BaseException as e:
    fail("from mpi4py import MPI", e)
out["mpi4py_module"] = getattr(MPI, "__file__", None)
# What mpi4py loaded; nothing new means its libmpi soname was already loaded (by h5py) and is shared.
out["mpi4py_mpi_libraries"] = [p for p in mapped(is_mpi) if p not in before] or mapped(is_mpi)
try:
    out["library"] = MPI.Get_library_version().strip("\0 \n").splitlines()[0]
except Exception:
    pass
out["loaded_mpi"] = mapped(is_mpi)

if not out["h5py_mpi"]:
    # The user's line, as it fails with a serial h5py (it raises before any file is created).
    try:
        h5py.File(path, "w", driver="mpio", comm=None)
        out["error"] = "h5py.File(driver='mpio') worked with a serial h5py"
    except BaseException as e:
        fail("h5py.File(driver='mpio')", e)

emit(out)  # everything known before MPI_Init
if sys.argv[3:] == ["before-mpi-init"]:
    sys.exit(0)



def phase(name):
    # For h5doctor: it does not kill this interpreter between "mpi_init" and "mpi_init_returned" (at most
    # 10 s): a process killed in its PMIx handshake hangs mpirun's or slurmstepd's PMIx server for good.
    # mpi4py's MPI.Init() holds the GIL, so nothing in this interpreter can wait for it itself.
    sys.stdout.flush()
    sys.stdout.write("\nH5DOCTOR-MPIO-PY-PHASE %s\n" % name)
    sys.stdout.flush()


start = time.time()
phase("mpi_init")
try:
    MPI.Init()
except BaseException as e:
    phase("mpi_init_returned")
    fail("MPI_Init", e)
phase("mpi_init_returned")
comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
init_seconds = time.time() - start
pmix = Pmix.of_this_process()
waited = announce_and_await_mpi_init(pmix, rank, size) if pmix else None
if waited is not None and os.environ.get("H5DOCTOR_MPIO_DEBUG"):
    sys.stderr.write("rank 0: every rank had finished MPI_Init %.3f s later\n" % waited)
path = comm.bcast(path, root=0)
n = mib_per_rank * 1024 * 1024 // 8
err = {}
results = []
verified = True


def note(step, e):
    if not err:
        err["step"] = "rank %d: %s" % (rank, step)
        err["error"] = last_line(e)
        err["traceback"] = traceback.format_exc()


def all_ok(ok):
    return comm.allreduce(1 if ok else 0, op=MPI.MIN) == 1


def value(d, lo, hi):
    return numpy.arange(lo, hi, dtype="f8") * 2.0 + d + 0.5


modes = ("collective", "independent")
f = None
try:
    f = h5py.File(path, "w", driver="mpio", comm=comm)
except BaseException as e:
    note("h5py.File(path, 'w', driver='mpio', comm=MPI.COMM_WORLD)", e)
go = all_ok(f is not None)
for d, mode in enumerate(modes):
    if not go:
        break
    lo, hi = rank * n, (rank + 1) * n
    step = "create_dataset %s" % mode
    try:
        ds = f.create_dataset(mode, (n * size,), dtype="f8")
        buf = value(d, lo, hi)
        comm.Barrier()
        t = MPI.Wtime()
        step = "%s write" % mode
        if mode == "collective":
            with ds.collective:
                ds[lo:hi] = buf
        else:
            ds[lo:hi] = buf
        f.flush()
        ok = True
    except BaseException as e:
        note(step, e)
        ok = False
    write = comm.allreduce(MPI.Wtime() - t if ok else 0.0, op=MPI.MAX)
    go = all_ok(ok)
    if not go:
        break
    comm.Barrier()
    t = MPI.Wtime()
    try:
        if mode == "collective":
            with ds.collective:
                back = ds[lo:hi]
        else:
            back = ds[lo:hi]
        ok = True
    except BaseException as e:
        note("%s read" % mode, e)
        ok = False
    read = comm.allreduce(MPI.Wtime() - t if ok else 0.0, op=MPI.MAX)
    if ok and not numpy.array_equal(back, buf):
        note("%s read-back" % mode, ValueError("own slab differs from what was written"))
        verified = False
    go = all_ok(ok)
    results.append({"mode": mode, "write_seconds": write, "read_seconds": read})
if f is not None:
    try:
        f.close()
    except BaseException as e:
        note("close", e)
if all_ok(go and not err):
    # Reopen read-only and check the neighbour's slab: data written by another process.
    nb = (rank + 1) % size
    try:
        with h5py.File(path, "r", driver="mpio", comm=comm) as f:
            for d, mode in enumerate(modes):
                got = f[mode][nb * n:(nb + 1) * n]
                want = value(d, nb * n, (nb + 1) * n)
                if not numpy.array_equal(got, want):
                    bad = int(numpy.nonzero(got != want)[0][0])
                    raise ValueError("%s: rank %d's slab reads back wrong at element %d (%r instead of %r)"
                                     % (mode, nb, nb * n + bad, float(got[bad]), float(want[bad])))
    except BaseException as e:
        note("read of rank %d's slab after a read-only reopen" % nb, e)
        verified = False
passed = all_ok(verified and not err and len(results) == len(modes))
everything = comm.gather({"host": MPI.Get_processor_name(), "err": err}, root=0)
if rank == 0:
    try:
        os.remove(path)
    except OSError:
        pass
    errors = [r["err"] for r in everything if r["err"]]
    nbytes = n * 8 * size
    mib = nbytes / 1048576.0
    record = {
        "stage": "result",
        "rank": rank,
        "size": size,
        "hosts": [r["host"] for r in everything],
        "init_seconds": init_seconds,
        "file": path,
        "passed": passed,
        "results": [dict(r, bytes=nbytes, verified=passed,
                         write_mib_s=mib / r["write_seconds"] if r["write_seconds"] > 0 else 0.0,
                         read_mib_s=mib / r["read_seconds"] if r["read_seconds"] > 0 else 0.0) for r in results],
    }
    if errors:
        record.update(error=errors[0]["step"] + ": " + errors[0]["error"], traceback=errors[0]["traceback"])
    emit(record)
else:
    emit({"stage": "done", "rank": rank, "size": size})
comm.Barrier()
MPI.Finalize()
