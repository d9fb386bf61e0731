//! Storage end to end: a real read-only tmpfs, a real full tmpfs, a directory the user may not write
//! (EACCES, told apart from a read-only mount), `--expect-size` against real free space, and an exhausted
//! quota (EDQUOT, errno 122) injected into the real HDF5 probe's writes with seccomp. The tmpfs mounts
//! live in a private mount namespace (`unshare --mount`, with a user namespace when not root), so nothing
//! on the host changes and they vanish with the run.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

/// Runs `h5doctor ARGS` in a private mount namespace where `dir` is a fresh tmpfs mounted with `options`;
/// `fill` writes zeros into it until it is full before h5doctor starts.
fn in_tmpfs(dir: &Path, options: &str, fill: bool, args: &[&str]) -> Run {
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private"]);
    if unsafe { libc::geteuid() } != 0 {
        cmd.arg("--map-root-user");
    }
    let fill_cmd = if fill {
        r#"dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null; "#
    } else {
        ""
    };
    let script = format!(r#"mount -t tmpfs -o "$2" tmpfs "$1" || exit 97; {fill_cmd}shift 2; exec "$@""#);
    cmd.args(["sh", "-c", &script, "sh"])
        .arg(dir)
        .arg(options)
        .arg(env!("CARGO_BIN_EXE_h5doctor"))
        .args(args);
    remove_uncontrolled_env(&mut cmd);
    let run = Run::of(cmd);
    assert!(
        run.code != 97 && !run.stderr.contains("unshare: "),
        "cannot mount a tmpfs in a private mount namespace (needs root, or unprivileged user namespaces, and \
         util-linux's unshare): {}",
        run.stderr
    );
    run
}

/// `check --json` of the hdf5 and locking groups in `dirs` (no default directories or interpreters).
fn check_args<'a>(dirs: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "check",
        "--no-default-dirs",
        "--no-default-pythons",
        "--json",
        "--only",
        "hdf5",
        "--only",
        "locking",
    ];
    for dir in dirs {
        args.extend(["--dir", dir]);
    }
    args.extend_from_slice(extra);
    args
}

#[test]
fn a_read_only_mount_is_output_fs_readonly_with_a_proven_writable_place() {
    let mnt = tempdir();
    let other = tempdir();
    let (m, o) = (mnt.path().to_str().unwrap(), other.path().to_str().unwrap());
    let run = in_tmpfs(mnt.path(), "ro,size=1m", false, &check_args(&[m, o], &[]));
    assert_eq!(
        run.code, 1,
        "a read-only output directory is an error, not inconclusive: {}",
        run.stdout
    );
    let report = run.json();
    assert_eq!(slugs(&report), ["output-fs-readonly"], "{report:#}");
    let f = finding(&report, "output-fs-readonly");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["id"], "H5D220");
    assert_eq!(evidence(f, "dir.mount_point"), m);
    assert_eq!(evidence(f, "dir.create_errno_name"), "EROFS");
    assert!(
        evidence(f, "dir.mount_options").as_array().unwrap().iter().any(|o| o == "ro"),
        "{f:#}"
    );
    assert_eq!(report["facts"]["dirs"][0]["storage"]["read_only"], true);
    assert_eq!(f["fixes"][0]["text"], format!("cd {o}"));
    assert_eq!(f["fixes"][0]["verified"], true, "HDF5 created a file in {o}: {f:#}");
    assert_no_leftovers(other.path());
}

#[test]
fn a_directory_without_write_permission_is_not_a_read_only_mount() {
    let dir = tempdir();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let run = H5doctor::as_nobody_if_root(&check_args(&[locked.to_str().unwrap()], &[])).run();
    let report = run.json();
    assert!(!slugs(&report).contains(&"output-fs-readonly".to_string()), "{report:#}");
    let d = &report["facts"]["dirs"][0];
    assert_eq!(d["storage"]["create"]["errno_name"], "EACCES");
    assert_eq!(d["storage"]["read_only"], false);
    assert!(
        d["lock"]["reason"].as_str().unwrap().contains("Permission denied (EACCES)"),
        "the inconclusive lock probe says why: {d:#}"
    );
    assert_eq!(
        run.code, 0,
        "a permission problem of the directory stays inconclusive: {}",
        run.stdout
    );
}

#[test]
fn a_full_tmpfs_is_fs_no_space_not_the_catch_all() {
    let mnt = tempdir();
    let other = tempdir();
    let (m, o) = (mnt.path().to_str().unwrap(), other.path().to_str().unwrap());
    let run = in_tmpfs(mnt.path(), "size=64k", true, &check_args(&[m, o], &[]));
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    assert_eq!(slugs(&report), ["fs-no-space"], "{report:#}");
    let f = finding(&report, "fs-no-space");
    assert_eq!(f["id"], "H5D221");
    assert_eq!(evidence(f, "dir.space_short"), "blocks");
    assert!(
        evidence(f, "dir.space").as_str().unwrap().starts_with("0 B free of 64.0 KiB"),
        "{f:#}"
    );
    // The real HDF5 1.10.8 fails only when it flushes the superblock at close: the probe reports that.
    assert_eq!(evidence(f, "dir.write_errnos"), &serde_json::json!([28]));
    assert!(
        evidence(f, "dir.hdf5_error").as_str().unwrap().contains("No space left on device"),
        "{f:#}"
    );
    let fixes = fix_texts(f);
    assert!(fixes[0].starts_with(&format!("df -h {m}")), "{fixes:?}");
    assert_eq!(fixes[1], format!("cd {o}"));
    assert_eq!(f["fixes"][1]["verified"], true);
}

#[test]
fn expect_size_above_the_free_space_is_fs_no_space_before_the_job() {
    let mnt = tempdir();
    let other = tempdir();
    let (m, o) = (mnt.path().to_str().unwrap(), other.path().to_str().unwrap());
    let run = in_tmpfs(mnt.path(), "size=8m", false, &check_args(&[m, o], &["--expect-size", "100M"]));
    let report = run.json();
    // HDF5 still creates a small file there: only the comparison with --expect-size sees the problem.
    assert_eq!(report["facts"]["dirs"][0]["hdf5"]["create"]["ok"], true, "{report:#}");
    assert_eq!(slugs(&report), ["fs-no-space"], "{report:#}");
    let f = finding(&report, "fs-no-space");
    assert_eq!(evidence(f, "dir.space_short"), "expected-size");
    assert_eq!(evidence(f, "dir.expect_size"), "100.0 MiB");
    assert_eq!(run.code, 1);

    let roomy = in_tmpfs(mnt.path(), "size=8m", false, &check_args(&[m, o], &["--expect-size", "1M"]));
    assert_eq!(roomy.code, 0, "{}", roomy.stdout);
    assert!(slugs(&roomy.json()).is_empty());
}

#[test]
fn an_expect_size_that_is_not_a_size_is_a_usage_error() {
    let run = H5doctor::new(&["check", "--no-default-dirs", "--expect-size", "lots"]).run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("\"lots\" is not a size"), "{}", run.stderr);
}

/// A probe wrapper that runs the real h5doctor-probe with writes to files failing with `errno`.
fn probe_with_failing_writes(dir: &Path, errno: i32) -> std::path::PathBuf {
    let wrapper = dir.join("probe-wrapper.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {} --write {errno} -- {} \"$@\"\n",
            bin("inject-errno").display(),
            bin("h5doctor-probe").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    wrapper
}

#[test]
fn edquot_on_hdf5_writes_is_fs_quota_exceeded() {
    let dir = tempdir();
    let tools = tempdir();
    let wrapper = probe_with_failing_writes(tools.path(), 122);
    let run = check_dir(dir.path(), None, &["--only", "hdf5"])
        .env("H5DOCTOR_PROBE", &wrapper)
        .run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = run.json();
    assert_eq!(slugs(&report), ["fs-quota-exceeded"], "{report:#}");
    let f = finding(&report, "fs-quota-exceeded");
    assert_eq!(f["id"], "H5D222");
    assert_eq!(evidence(f, "dir.write_errnos"), &serde_json::json!([122]));
    assert!(
        evidence(f, "dir.hdf5_error").as_str().unwrap().contains("Disk quota exceeded"),
        "{f:#}"
    );
    assert_eq!(fix_texts(f)[0], "quota -s");
    assert_no_leftovers(dir.path());
}

/// `check --facts` of a facts JSON value; the report.
fn replay(facts: &serde_json::Value) -> (i32, serde_json::Value) {
    let run = replay_facts(facts);
    (run.code, run.json())
}

fn fixture(slug: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/rules")
        .join(format!("{slug}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

// No Lustre here: these replay facts recorded as a Lustre client reports them (statfs magic 0x0bd00bd0, the
// LL_IOC_LOV_GETSTRIPE answer decoded as groups::hdf5::probe::storage decodes it, SLURM_NTASKS of a 64-rank job).
#[test]
fn replayed_lustre_stripe_count_1_under_a_parallel_job_is_lustre_stripe_default() {
    let facts = fixture("lustre-stripe-default");
    let (code, report) = replay(&facts);
    assert_eq!(code, 0, "a warning alone exits 0");
    assert_eq!(slugs(&report), ["lustre-stripe-default"], "{report:#}");
    let f = finding(&report, "lustre-stripe-default");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["id"], "H5D227");
    assert_eq!(
        fix_texts(f),
        [
            "lfs setstripe -c 8 -S 1m /lus/scratch/alice/run42",
            "H5Pset_alignment(fapl, 1048576, 1048576)"
        ]
    );

    let mut big = facts.clone();
    big["dirs"][0]["storage"]["expect_bytes"] = serde_json::json!(50u64 << 30);
    let (_, report) = replay(&big);
    assert_eq!(
        fix_texts(finding(&report, "lustre-stripe-default"))[0],
        "lfs setstripe -c 24 -S 1m /lus/scratch/alice/run42"
    );

    let mut serial = facts.clone();
    serial["env"]["vars"]["SLURM_NTASKS"] = serde_json::json!("1");
    assert!(slugs(&replay(&serial).1).is_empty(), "one process: one OST is fine");

    let mut striped = facts.clone();
    striped["dirs"][0]["storage"]["lustre"]["stripe_count"] = serde_json::json!(8);
    assert!(slugs(&replay(&striped).1).is_empty());
}

// The kernel's quota (quotactl) cannot be switched on here (no tmpfs quota, no loop devices): this replays
// a quota record as quotactl reports it, on the facts of a real run.
#[test]
fn replayed_group_quota_at_its_limit_is_fs_quota_exceeded_before_any_write_fails() {
    let mut facts = fixture("lustre-stripe-default");
    facts["dirs"][0]["storage"]["lustre"] = serde_json::Value::Null;
    facts["dirs"][0]["filesystem"]["fs_type"] = serde_json::json!("ext4");
    facts["dirs"][0]["storage"]["quotas"] = serde_json::json!([{
        "kind": "group", "id": 1000, "source": "quotactl", "bytes_used": 1073741824u64,
        "bytes_soft": null, "bytes_hard": 1073741824u64, "inodes_used": 57, "inodes_soft": null, "inodes_hard": 100
    }]);
    let (code, report) = replay(&facts);
    assert_eq!(code, 1);
    assert_eq!(slugs(&report), ["fs-quota-exceeded"], "{report:#}");
    let f = finding(&report, "fs-quota-exceeded");
    assert_eq!(
        evidence(f, "dir.quota_exhausted"),
        &serde_json::json!(["group quota of group 1000: 1.0 GiB used of 1.0 GiB"])
    );
    let fixes = fix_texts(f);
    assert_eq!(fixes[0], "quota -s");
    assert_eq!(
        fixes[1],
        "chgrp -R PROJECT /lus/scratch/alice/run42 && chmod g+s /lus/scratch/alice/run42"
    );
}
