//! `check FILE` on what a file needs from its reader, end to end with real files: a dataset of HDF5 2.0's
//! complex type written by the h5py 3.16 wheel (unreadable by Debian's HDF5 1.10.8), a virtual dataset one
//! of whose sources was moved (HDF5 silently returns fill values for its row), and a virtual dataset over
//! more sources than a lowered `ulimit -n` lets HDF5 open (fill values again, no error). The fixes are
//! proven by h5doctor's own re-reads (the newer HDF5, HDF5_VDS_PREFIX, the raised limit), and each test
//! also shows a case where the re-read fails and the fix stays unverified.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The venv with the h5py 3.16.0 wheel (HDF5 2.0.0), built once under ~/.cache/h5doctor-tests.
fn h5py_wheel_python() -> PathBuf {
    let cache = PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/h5doctor-tests");
    std::fs::create_dir_all(&cache).unwrap();
    let root = cache.join("h5py-3.16.0");
    let lock = std::fs::File::create(cache.join("h5py-3.16.0.lock")).unwrap();
    use std::os::fd::AsRawFd;
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    if !root.join(".h5doctor-test-ready").exists() {
        let _ = std::fs::remove_dir_all(&root);
        let make = Command::new("/usr/bin/python3").args(["-m", "venv"]).arg(&root).output().unwrap();
        assert!(make.status.success(), "python3 -m venv failed (needs python3-venv): {make:?}");
        let pip = Command::new(root.join("bin/pip"))
            .args(["install", "-q", "--only-binary=:all:", "h5py==3.16.0"])
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .output()
            .unwrap();
        assert!(pip.status.success(), "pip install h5py==3.16.0 failed (needs PyPI): {pip:?}");
        std::fs::write(root.join(".h5doctor-test-ready"), "h5py==3.16.0\n").unwrap();
    }
    root.join("bin/python")
}

fn run_python(python: &Path, script: &str, args: &[&str]) {
    let out = Command::new(python).arg("-c").arg(script).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        python.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_complex_dataset_from_hdf5_2_is_file_format_too_new_for_hdf5_1_10() {
    let python = h5py_wheel_python();
    let dir = tempdir();
    let file = dir.path().join("complex.h5");
    run_python(
        &python,
        "import sys, h5py, numpy\n\
         with h5py.File(sys.argv[1], 'w') as f:\n\
         \x20   f['plain'] = numpy.arange(4)\n\
         \x20   h5py.h5d.create(f.id, b'z', h5py.h5t.COMPLEX_IEEE_F64LE, h5py.h5s.create_simple((4,)))\n",
        &[file.to_str().unwrap()],
    );
    let before = FileSnapshot::take(&file);
    let run = H5doctor::new(&[
        "check",
        "--json",
        "--no-default-pythons",
        "--allow-exec-as-root",
        "--python",
        python.to_str().unwrap(),
        file.to_str().unwrap(),
    ])
    .run();
    let report = run.json();
    let f = finding(&report, "file-format-too-new");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["id"], "H5D224");
    let too_new = evidence(f, "file.format_too_new").to_string();
    assert!(
        too_new.contains("/z: H5O_dtype_decode_helper(): bad version number for datatype message"),
        "{too_new}"
    );
    assert!(
        evidence(f, "file.newer_readers").to_string().contains("HDF5 2.0.0 of h5py 3.16.0"),
        "{f:#}"
    );
    assert_eq!(
        f["fixes"][0]["text"],
        format!(
            "{} -c \"import h5py; f = h5py.File('{}', 'r'); print(list(f))\"",
            python.display(),
            file.display()
        )
    );
    // The fix is proven: h5doctor opened /z with that interpreter's HDF5 2.0.
    assert_eq!(f["fixes"][0]["verified"], true, "{f:#}");
    let check = evidence(f, "file.newer_reader_check").as_str().unwrap();
    assert!(check.starts_with("h5py with HDF5 2.0.0 ("), "{check}");
    assert!(check.ends_with("opening /z: ok"), "{check}");
    assert_eq!(run.code, 1);
    before.assert_unchanged(&file);

    // No module system known to this run (a run about files only does not read the module index): no
    // fix of kind `module` (no `module` line to type), and no fix's text or note mentions modules; the
    // plain words of kind shell.
    assert_eq!(report["facts"]["modules"]["status"], "not-run", "{:#}", report["facts"]["modules"]);
    assert!(f["fixes"].as_array().unwrap().iter().all(|x| x["kind"] != "module"), "{f:#}");
    for fix in f["fixes"].as_array().unwrap() {
        let words = format!("{} {}", fix["text"], fix["note"]).to_ascii_lowercase();
        assert!(!words.contains("module"), "a fix mentions modules without a module system: {fix:#}");
    }
    let newer = f["fixes"].as_array().unwrap().last().unwrap();
    assert_eq!(newer["kind"], "shell", "{f:#}");
    assert!(
        newer["text"]
            .as_str()
            .unwrap()
            .starts_with("Read the file with an HDF5 (and its tools) at least as new as the writer's"),
        "{newer:#}"
    );
    assert!(
        newer["note"]
            .as_str()
            .unwrap()
            .starts_with("The reader's HDF5 must know every format version the file uses"),
        "{newer:#}"
    );

    // Without a newer HDF5 to try (no interpreter examined), the same words, unverified, and the report
    // says why.
    let alone = H5doctor::new(&["check", "--json", file.to_str().unwrap()]).run();
    let report = alone.json();
    let f = finding(&report, "file-format-too-new");
    assert_eq!(f["fixes"].as_array().unwrap().len(), 2, "{f:#}");
    let newer = &f["fixes"][1];
    assert_eq!(newer["kind"], "shell");
    assert_eq!(newer["verified"], false);
    assert!(
        newer["note"]
            .as_str()
            .unwrap()
            .contains("Not verified here: h5doctor found no HDF5 newer than this node's (1.10.8)"),
        "{newer:#}"
    );
    assert!(f["fixes"].as_array().unwrap().iter().all(|x| x["verified"] == false));
    before.assert_unchanged(&file);
}

/// `n` single-row source files and a VDS over them (fill value -1), written by Debian's h5py (HDF5 1.10.8).
fn vds(dir: &Path, n: usize) -> PathBuf {
    let file = dir.join("vds.h5");
    debian_python(
        "import sys, h5py, numpy\n\
         d, n = sys.argv[1], int(sys.argv[2])\n\
         layout = h5py.VirtualLayout(shape=(n, 4), dtype='i4')\n\
         for i in range(n):\n\
         \x20   name = '%s/src%02d.h5' % (d, i)\n\
         \x20   with h5py.File(name, 'w') as s:\n\
         \x20       s['data'] = numpy.full(4, i, dtype='i4')\n\
         \x20   layout[i] = h5py.VirtualSource(name, 'data', shape=(4,))\n\
         with h5py.File(d + '/vds.h5', 'w') as f:\n\
         \x20   f.create_virtual_dataset('vds', layout, fillvalue=-1)\n",
        &[dir.to_str().unwrap(), &n.to_string()],
    );
    file
}

#[test]
fn a_moved_vds_source_is_named_with_the_row_it_backs() {
    let dir = tempdir();
    let file = vds(dir.path(), 5);
    // What the user sees without h5doctor: no error, one row of fill values.
    let src = dir.path().join("src03.h5");
    std::fs::rename(&src, dir.path().join("moved-away.h5")).unwrap();
    let rows = debian_python(
        "import sys, h5py; print(h5py.File(sys.argv[1], 'r')['vds'][:, 0].tolist())",
        &[file.to_str().unwrap()],
    );
    assert_eq!(rows.trim(), "[0, 1, 2, -1, 4]", "HDF5 fills the moved source's row silently");

    let run = H5doctor::new(&["check", "--json", file.to_str().unwrap()]).run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    assert_eq!(slugs(&report), ["vds-source-missing"], "{report:#}");
    let f = finding(&report, "vds-source-missing");
    assert_eq!(f["id"], "H5D225");
    let missing = evidence(f, "file.vds_sources_missing").as_array().unwrap().clone();
    assert_eq!(missing.len(), 1, "{missing:?}");
    let text = missing[0].as_str().unwrap();
    assert!(text.starts_with(&format!("{} (missing; backs /vds row 3", src.display())), "{text}");
    assert!(
        text.contains(&format!("looked in: {}", src.display())),
        "every place HDF5 looks: {text}"
    );
    assert_eq!(evidence(f, "file.vds_source_files"), 5);
    // Renamed, the source is found nowhere near: the prefix fix is the generic one, unverified, and says so.
    assert_eq!(
        f["fixes"][0]["text"],
        "export HDF5_VDS_PREFIX=/directory/that/now/holds/the/sources"
    );
    assert_eq!(f["fixes"][0]["verified"], false);
    assert!(f["fixes"][0]["note"].as_str().unwrap().contains("Not verified here"), "{f:#}");

    // With HDF5_VDS_PREFIX pointing where the file now is, HDF5 finds it (first under the stored name's
    // last component in the prefix): move it into a directory of its own and name that.
    let elsewhere = tempdir();
    std::fs::rename(dir.path().join("moved-away.h5"), elsewhere.path().join("src03.h5")).unwrap();
    let fixed = H5doctor::new(&["check", "--json", file.to_str().unwrap()])
        .env("HDF5_VDS_PREFIX", elsewhere.path())
        .run();
    assert_eq!(fixed.code, 0, "{}", fixed.stdout);
    let sources = &fixed.json()["facts"]["files"][0]["hdf5"]["vds_sources"];
    let s3 = sources
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stored"] == src.to_str().unwrap())
        .unwrap();
    assert_eq!(s3["found_by"], "HDF5_VDS_PREFIX");
    // HDF5 itself agrees: with the prefix, the real read returns the moved source's row.
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg("import sys, h5py; print(h5py.File(sys.argv[1], 'r')['vds'][:, 0].tolist())")
        .arg(&file)
        .env("HDF5_VDS_PREFIX", elsewhere.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[0, 1, 2, 3, 4]", "{out:?}");
}

#[test]
fn a_lowered_open_files_limit_is_fd_limit_low_for_a_large_vds() {
    let dir = tempdir();
    let file = vds(dir.path(), 30);
    let lowered = |n: u32| {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -Sn {n} && exec \"$@\""))
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_h5doctor"))
            .args(["check", "--json", file.to_str().unwrap()]);
        Run::of(cmd)
    };
    // What the user sees at this limit without h5doctor: rows of fill values and no error.
    assert!(h5py_filled_rows(&file, 16) > 0, "HDF5 should fill rows silently at 16 descriptors");

    // At 24 descriptors h5doctor-probe's own read of the VDS misses sources, as the job's would; under the
    // fix line it opens all 30: the fix is verified by that re-read.
    let run = lowered(24);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report = run.json();
    assert_eq!(slugs(&report), ["fd-limit-low"], "{report:#}");
    let f = finding(&report, "fd-limit-low");
    assert_eq!(f["id"], "H5D226");
    assert_eq!(evidence(f, "host.open_files_soft"), 24);
    assert_eq!(evidence(f, "host.open_files_short"), "soft");
    let rereads = evidence(f, "host.open_files_rereads").as_array().unwrap().clone();
    let now = rereads[0].as_str().unwrap();
    let opened_now: u32 = now.split(' ').next().unwrap().parse().unwrap();
    assert!(
        opened_now < 30 && now.ends_with("of 30 source files opened by HDF5 with `nothing (the limit as it is)`"),
        "{now}"
    );
    assert_eq!(rereads[1], "30 of 30 source files opened by HDF5 with `ulimit -n $(ulimit -Hn)`");
    assert_eq!(fix_texts(f)[0], "ulimit -n $(ulimit -Hn)");
    assert_eq!(f["fixes"][0]["verified"], true, "{f:#}");

    // The count is derived, not a floor: the sources, the VDS file and the descriptors h5doctor itself
    // inherited below the limit (stdio, and whatever this test process leaves open to its children, which
    // the h5py below inherits the same way). h5py reads every row at exactly that limit and loses one row
    // at one less, and h5doctor says so at that one less and not at the limit.
    let need = evidence(f, "host.open_files_needed").as_u64().unwrap() as u32;
    let budget = evidence(f, "host.open_files_budget").as_str().unwrap().to_string();
    assert!(
        budget.starts_with("30 source files + 1 (the VDS file) + ") && budget.ends_with(&format!("= {need}")),
        "{budget}"
    );
    assert!(need >= 34, "{budget}");
    assert_eq!(
        h5py_filled_rows(&file, need),
        0,
        "h5py at the limit h5doctor says is enough ({budget})"
    );
    assert_eq!(h5py_filled_rows(&file, need - 1), 1, "h5py one below it ({budget})");
    let enough = lowered(need);
    assert_eq!(enough.code, 0, "{}{}", enough.stdout, enough.stderr);
    assert!(slugs(&enough.json()).is_empty());
    let short = lowered(need - 1);
    assert_eq!(short.code, 1, "{}{}", short.stdout, short.stderr);
    let report = short.json();
    let f = finding(&report, "fd-limit-low");
    assert_eq!(evidence(f, "host.open_files_needed"), need);
    assert_eq!(evidence(f, "host.open_files_soft"), need - 1);

    // With a source missing as well, raising the limit does not give every row back: not verified.
    std::fs::remove_file(dir.path().join("src07.h5")).unwrap();
    let run = lowered(24);
    let report = run.json();
    let f = finding(&report, "fd-limit-low");
    assert_eq!(
        evidence(f, "host.open_files_rereads")[1],
        "29 of 30 source files opened by HDF5 with `ulimit -n $(ulimit -Hn)`"
    );
    assert_eq!(f["fixes"][0]["verified"], false, "{f:#}");
    assert!(slugs(&report).contains(&"vds-source-missing".to_string()));
    std::fs::copy(dir.path().join("src06.h5"), dir.path().join("src07.h5")).unwrap();

    let raised = lowered(4096);
    assert_eq!(raised.code, 0, "{}", raised.stdout);
    assert!(slugs(&raised.json()).is_empty());
}

/// The rows of `file`'s 30-row virtual dataset that a real h5py (Debian's, HDF5 1.10.8) reads as the fill
/// value under `ulimit -Sn limit`: sources HDF5 could not open for want of a descriptor.
fn h5py_filled_rows(file: &Path, limit: u32) -> u32 {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -Sn {limit} && exec /usr/bin/python3 -c \"import sys, h5py; print(h5py.File(sys.argv[1], 'r')['vds'][:, 0].tolist().count(-1))\" \"$1\""
        ))
        .arg("sh")
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a count")
}

/// `check --json FILE` and the vds-source-missing finding it must give.
fn vds_finding(file: &Path) -> serde_json::Value {
    let run = H5doctor::new(&["check", "--json", file.to_str().unwrap()]).run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    assert_eq!(slugs(&report), ["vds-source-missing"], "{report:#}");
    finding(&report, "vds-source-missing").clone()
}

#[test]
fn moved_vds_sources_are_found_and_the_prefix_fix_is_verified_by_a_real_read() {
    let dir = tempdir();
    let file = vds(dir.path(), 5);
    let moved = dir.path().join("staged/moved");
    std::fs::create_dir_all(&moved).unwrap();
    for name in ["src03.h5", "src04.h5"] {
        std::fs::rename(dir.path().join(name), moved.join(name)).unwrap();
    }
    let f = vds_finding(&file);
    let moved = std::fs::canonicalize(&moved).unwrap();
    assert_eq!(evidence(&f, "file.vds_sources_found_in"), moved.to_str().unwrap());
    assert_eq!(
        evidence(&f, "file.vds_prefix_reread"),
        &format!(
            "5 of 5 source files opened by HDF5 with `export HDF5_VDS_PREFIX={}`",
            moved.display()
        )
    );
    assert_eq!(f["fixes"][0]["text"], format!("export HDF5_VDS_PREFIX={}", moved.display()));
    assert_eq!(f["fixes"][0]["verified"], true, "{f:#}");
    // HDF5 itself agrees: with that prefix every row is real data.
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg("import sys, h5py; print(h5py.File(sys.argv[1], 'r')['vds'][:, 0].tolist())")
        .arg(&file)
        .env("HDF5_VDS_PREFIX", &moved)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[0, 1, 2, 3, 4]", "{out:?}");

    // A file of the right name that HDF5 cannot open: the directory is named, but the real read opens 4 of
    // 5 sources, so the fix is not verified.
    std::fs::write(moved.join("src04.h5"), "not an HDF5 file\n").unwrap();
    let f = vds_finding(&file);
    assert_eq!(
        evidence(&f, "file.vds_prefix_reread"),
        &format!(
            "4 of 5 source files opened by HDF5 with `export HDF5_VDS_PREFIX={}`",
            moved.display()
        )
    );
    assert_eq!(f["fixes"][0]["text"], format!("export HDF5_VDS_PREFIX={}", moved.display()));
    assert_eq!(f["fixes"][0]["verified"], false, "{f:#}");
}
