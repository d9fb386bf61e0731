//! Lustre's quotas and OST space as `lfs` reports them, judged by the rules. No Lustre runs here, so this
//! is a replay: the facts of a real run on this machine, with the directory's storage replaced by what
//! h5doctor's parsers read from `lfs quota` and `lfs df` output recorded on real Lustre clients.

mod common;
use common::*;
use h5doctor::groups::hdf5::probe::lfs::{parse_df, parse_quota};
use serde_json::{json, Value};

/// `lfs quota -h -u xdtr108 ./` on a university cluster's Lustre (recorded by a user).
const USER_QUOTA: &str = "Disk quotas for usr xdtr108 (uid 514559):
     Filesystem    used   quota   limit   grace   files   quota   limit   grace
             ./  792.3M      0k  9.537T       -       9       0 2000000       -
";

/// `lfs df` with one full OST (the Lustre manual's "Handling Full OSTs").
const DF: &str = "UUID                   1K-blocks        Used   Available Use% Mounted on
testfs-MDT0000_UUID      4105560      163108     3716720   4% /mnt/testfs[MDT:0]
testfs-OST0000_UUID    103145380   103145380           0 100% /mnt/testfs[OST:0]
testfs-OST0001_UUID    103145380     3123128    94778636   3% /mnt/testfs[OST:1]

filesystem_summary:    206290760   106268508    94778636  52% /mnt/testfs
";

/// A real run's facts for a temporary directory, its mount replaced by a Lustre client mount and its
/// storage by what the parsers read, with `expect` bytes as --expect-size.
fn lustre_facts(expect: Option<u64>) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempdir();
    let run = H5doctor::new(&[
        "facts",
        "--json",
        "--no-default-dirs",
        "--only",
        "hdf5",
        "--dir",
        dir.path().to_str().unwrap(),
    ])
    .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut facts: Value = serde_json::from_str(&run.stdout).unwrap();
    let d = &mut facts["dirs"][0];
    d["filesystem"]["magic"] = json!("0x0bd00bd0");
    d["filesystem"]["fs_type"] = json!("lustre");
    d["filesystem"]["mount_point"] = json!("/mnt/testfs");
    d["filesystem"]["source"] = json!("10.0.0.1@o2ib:/testfs");
    let storage = &mut d["storage"];
    storage["quotas"] = serde_json::to_value(parse_quota(USER_QUOTA)).unwrap();
    storage["quota_note"] = Value::Null;
    storage["lustre_osts"] = serde_json::to_value(parse_df(DF)).unwrap();
    storage["expect_bytes"] = json!(expect);
    let file = dir.path().join("lustre-facts.json");
    std::fs::write(&file, serde_json::to_string_pretty(&facts).unwrap()).unwrap();
    (dir, file)
}

#[test]
fn lfs_quota_below_expect_size_is_fs_quota_exceeded_in_replay() {
    // 9.537 TiB hard limit, 792 MiB used: room for 1 TiB, not for 10 TiB.
    let (_keep, file) = lustre_facts(Some(1 << 40));
    let run = H5doctor::new(&["check", "--json", "--facts", file.to_str().unwrap()]).run();
    assert!(!slugs(&run.json()).contains(&"fs-quota-exceeded".to_string()), "{}", run.stdout);

    let (_keep, file) = lustre_facts(Some(10 << 40));
    let run = H5doctor::new(&["check", "--json", "--facts", file.to_str().unwrap()]).run();
    let report = run.json();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let f = finding(&report, "fs-quota-exceeded");
    let quotas = evidence(f, "dir.quotas").to_string();
    assert!(quotas.contains("lfs quota") && quotas.contains("514559"), "{quotas}");
    assert!(evidence(f, "dir.quota_exhausted").to_string().contains("user"), "{f:#}");
}

#[test]
fn a_full_ost_is_named_in_fs_no_space_evidence_in_replay() {
    // The write that hit the full OST failed with ENOSPC: fs-no-space, with the OST named.
    let (_keep, file) = lustre_facts(None);
    let mut facts: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    facts["dirs"][0]["hdf5"]["create"]["ok"] = json!(false);
    facts["dirs"][0]["hdf5"]["create"]["errno"] = json!(28);
    std::fs::write(&file, serde_json::to_string_pretty(&facts).unwrap()).unwrap();
    let run = H5doctor::new(&["check", "--json", "--facts", file.to_str().unwrap()]).run();
    let report = run.json();
    let f = finding(&report, "fs-no-space");
    let full = evidence(f, "dir.lustre_full_osts").as_array().unwrap().clone();
    assert_eq!(full.len(), 1, "{full:?}");
    assert!(full[0].as_str().unwrap().starts_with("testfs-OST0000 (0 B free of"), "{full:?}");
}
