# h5doctor import probe: `import numpy, h5py` as the job would, then h5py.File() in each target directory.
# argv: "import" followed by triples DIR FILE RETRY_FILE (files named and registered by h5doctor), or
#    "import -": the same triples as one JSON line on stdin (file names as hex bytes), read once the imports
#    are done (h5doctor starts the import before its directory probe has said where files may be created),
#    or "mpi-check" (import h5py only and report get_config().mpi).
# The last stdout line is "H5DOCTOR-IMPORT-PROBE <json>"; everything else is the user's stack talking.
import json, os, sys, traceback, warnings

MARK = "H5DOCTOR-IMPORT-PROBE "
out = {"ok": False, "creates": [], "warnings": []}


def last_line(e):
    text = str(e)
    return "%s: %s" % (type(e).__name__, text) if text else type(e).__name__


def fail(stage, e):
    out["failed_import"] = stage
    out["error"] = last_line(e)
    out["traceback"] = traceback.format_exc()


def finish():
    sys.stdout.flush()
    sys.stdout.write("\n" + MARK + json.dumps(out) + "\n")
    sys.stdout.flush()


def h5py_present():
    try:
        import importlib.util
        return importlib.util.find_spec("h5py") is not None
    except ImportError:
        import imp
        try:
            imp.find_module("h5py")
            return True
        except ImportError:
            return False


mode = sys.argv[1] if len(sys.argv) > 1 else "import"
# DIR FILE RETRY_FILE triples, flat: from argv, or from stdin ("import -") once the imports are done.
targets = [] if sys.argv[2:3] == ["-"] else (sys.argv[2:] if mode == "import" else [])


def from_hex(h):
    # File names come as hex bytes (a directory's name need not be UTF-8); str as os.fsencode gives back.
    raw = bytes(bytearray.fromhex(h))
    return os.fsdecode(raw) if hasattr(os, "fsdecode") else raw


def read_targets():
    global targets
    try:
        line = sys.stdin.readline()
        flat = []
        for d, f, retry in (json.loads(line) if line.strip() else []):
            flat.extend([d, from_hex(f), from_hex(retry)])
    except Exception:
        flat = []
    targets = flat


def remove_probe_files():
    if mode == "import":
        # DIR FILE RETRY_FILE triples; only h5doctor's own names are ever removed.
        for i in range(1, len(targets), 3):
            for path in targets[i:i + 2]:
                if os.path.basename(path).startswith(".h5doctor-probe-"):
                    try:
                        os.unlink(path)
                    except OSError:
                        pass


def remove_probe_files_and_exit(signum, frame):
    # h5doctor died (PR_SET_PDEATHSIG) or was stopped: remove this probe's files, which it named, and leave.
    remove_probe_files()
    os._exit(128 + signum)


try:
    import signal
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, remove_probe_files_and_exit)
except Exception:
    pass
if not h5py_present():
    out["h5py_missing"] = True
    finish()
    sys.exit(0)

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    stage = "numpy"
    try:
        if mode == "import":
            import numpy
            out["numpy_version"] = numpy.__version__
            out["numpy_file"] = numpy.__file__
        stage = "h5py"
        import h5py
        out["h5py_version"] = h5py.__version__
        out["h5py_file"] = h5py.__file__
        out["ok"] = True
    except BaseException as e:
        fail(stage, e)
    out["warnings"] = ["%s: %s" % (w.category.__name__, w.message) for w in caught]

if out["ok"]:
    h5 = sys.modules.get("h5py.h5")
    if h5 is not None:
        out["h5py_module"] = h5.__name__.rsplit(".", 1)[0]
        built = getattr(h5, "NUMPY_VERSION_COMPILED_AGAINST", None)
        if built:
            out["numpy_built"] = str(built)
    try:
        out["mpi"] = bool(h5py.get_config().mpi)
    except Exception:
        pass
    try:
        from h5py import version as v
        out["hdf5_version"] = v.hdf5_version
        out["hdf5_built"] = ".".join(str(x) for x in v.hdf5_built_version_tuple)
    except Exception:
        pass
    try:
        with open("/proc/self/maps") as maps:
            seen = []
            for line in maps:
                path = line.split(None, 5)[5].strip() if len(line.split(None, 5)) == 6 else ""
                name = path.rsplit("/", 1)[-1]
                if name.startswith("libhdf5") and "_hl" not in name and path not in seen:
                    seen.append(path)
            out["loaded_hdf5"] = seen
    except Exception:
        pass

    def is_lock_error(text):
        return "unable to lock file" in text or "file locking disabled on this file system" in text

    def create(d, f, **kw):
        r = {"dir": d, "file": f, "ok": False}
        try:
            h5py.File(f, "w-", **kw).close()
            r["ok"] = True
        except BaseException as e:
            r["errno"] = getattr(e, "errno", None) if isinstance(getattr(e, "errno", None), int) else None
            r["error"] = last_line(e)
        return r

    if mode == "import" and sys.argv[2:3] == ["-"]:
        read_targets()
    args = targets
    for i in range(0, len(args) - 2, 3):
        d, f, retry = args[i], args[i + 1], args[i + 2]
        r = create(d, f)
        if not r["ok"] and is_lock_error(r.get("error") or ""):
            r["without_locking"] = create(d, retry, locking=False)
        out["creates"].append(r)

# The creates are done: the files go now, before the answer. h5doctor removes them too once it has read
# it, but it may be SIGKILLed between this script's exit and that moment (a Slurm job end), and then
# nobody would.
remove_probe_files()
finish()
