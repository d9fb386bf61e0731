//! Lustre's own reports, read as `lfs` prints them: `lfs quota -u|-g|-p ID DIR` (Lustre keeps its quotas
//! on the servers; the generic quotactl(2) does not see them) and `lfs df DIR` (each OST's space: one full
//! OST answers ENOSPC for every file striped onto it while the file system as a whole has room).
//!
//! Lustre cannot run on this machine, so the parsers are tested on output recorded from real Lustre
//! clients (sites' documentation and users' notes), in the layouts `lfs` uses: plain kbytes, `-h` units,
//! `*` after a value over its soft limit, `[...]` around values the servers could not all confirm, a long
//! mount point on a line of its own.

use crate::facts::values::{QuotaKind, QuotaSource};
use crate::facts::{OstUsage, QuotaFacts};
use std::path::Path;
use std::time::Duration;

/// `4194308*`, `[1041408]`, `792.3M`, `8T`, `0k` -> the number in units of `unit` bytes when there is no
/// suffix (1024 for kbytes columns, 1 for file counts); suffixes are powers of 1024 (`lfs -h`).
fn value(token: &str, unit: u64) -> Option<u64> {
    let t = token.trim_matches(|c| c == '[' || c == ']' || c == '*');
    let (digits, scale) = match t.chars().last()? {
        c if c.is_ascii_digit() => (t, unit),
        c => {
            let power = match c.to_ascii_lowercase() {
                'k' => 1,
                'm' => 2,
                'g' => 3,
                't' => 4,
                'p' => 5,
                'e' => 6,
                _ => return None,
            };
            (&t[..t.len() - 1], 1024u64.pow(power))
        }
    };
    let n: f64 = digits.parse().ok()?;
    Some((n * scale as f64).round() as u64)
}

/// A limit: 0 means none.
fn limit(v: u64) -> Option<u64> {
    (v > 0).then_some(v)
}

/// `Disk quotas for usr alice (uid 1000):` -> (`user`, 1000).
fn header(line: &str) -> Option<(QuotaKind, u32)> {
    let rest = line.trim().strip_prefix("Disk quotas for ")?;
    let kind = match rest.split_whitespace().next()? {
        "usr" | "user" => QuotaKind::User,
        "grp" | "group" => QuotaKind::Group,
        "prj" | "project" => QuotaKind::Project,
        _ => return None,
    };
    let inside = rest.rsplit_once('(')?.1.split(')').next()?;
    let id = inside.split_whitespace().last()?.parse().ok()?;
    Some((kind, id))
}

/// The records of `lfs quota` output that have a limit (as quotactl's are kept), in order.
pub fn parse_quota(text: &str) -> Vec<QuotaFacts> {
    let mut out = Vec::new();
    let mut current: Option<(QuotaKind, u32)> = None;
    let mut tokens: Vec<&str> = Vec::new();
    for line in text.lines() {
        if let Some(h) = header(line) {
            current = Some(h);
            tokens.clear();
            continue;
        }
        let Some((kind, id)) = current else { continue };
        if line.trim_start().starts_with("Filesystem") {
            continue;
        }
        // A long mount point stands alone on its line; its numbers follow on the next.
        tokens.extend(line.split_whitespace());
        if tokens.len() < 8 {
            continue;
        }
        let values: Vec<&str> = tokens[1..].to_vec();
        tokens.clear();
        current = None;
        // used, quota, limit, [grace], files, quota, limit, [grace]: a grace is `-`, empty, or a duration.
        let numbers: Vec<&str> = values.iter().copied().filter(|t| value(t, 1).is_some()).collect();
        if numbers.len() < 6 {
            continue;
        }
        let kib = |i: usize| value(numbers[i], 1024).unwrap_or(0);
        let files = |i: usize| value(numbers[i], 1).unwrap_or(0);
        let q = QuotaFacts {
            kind,
            id,
            source: QuotaSource::LfsQuota,
            bytes_used: kib(0),
            bytes_soft: limit(kib(1)),
            bytes_hard: limit(kib(2)),
            inodes_used: files(3),
            inodes_soft: limit(files(4)),
            inodes_hard: limit(files(5)),
        };
        if q.bytes_soft.or(q.bytes_hard).or(q.inodes_soft).or(q.inodes_hard).is_some() {
            out.push(q);
        }
    }
    out
}

/// The OSTs of `lfs df` output (`fsname-OST0001_UUID  1K-blocks  Used  Available  Use%  /mnt[OST:1]`), in
/// order; MDTs and the summary line are left out.
pub fn parse_df(text: &str) -> Vec<OstUsage> {
    text.lines()
        .filter_map(|line| {
            let t: Vec<&str> = line.split_whitespace().collect();
            let (name, rest) = t.split_first()?;
            let mounted = rest.last()?;
            if !mounted.contains("[OST:") || rest.len() < 5 {
                return None;
            }
            Some(OstUsage {
                name: name.trim_end_matches("_UUID").to_string(),
                bytes_total: value(rest[0], 1024)?,
                bytes_free: value(rest[2], 1024)?,
            })
        })
        .collect()
}

/// Runs `lfs ARGS DIR` with a timeout; its stdout when it succeeded.
fn run(args: &[String], dir: &Path, timeout: Duration) -> Option<String> {
    let lfs = which::which("lfs").ok()?;
    let mut cmd = std::process::Command::new(lfs);
    cmd.args(args).arg(dir);
    let out = crate::probes::child::run(cmd, timeout).ok()?;
    out.status.is_some_and(|s| s.success()).then_some(out.stdout)
}

/// The quotas `lfs quota` reports for each (kind, id) asked, when `lfs` is installed.
pub fn quotas(dir: &Path, asks: &[(QuotaKind, u32)], timeout: Duration) -> Vec<QuotaFacts> {
    asks.iter()
        .filter_map(|(kind, id)| {
            let flag = match kind {
                QuotaKind::User => "-u",
                QuotaKind::Group => "-g",
                QuotaKind::Project => "-p",
            };
            run(&[flag.to_string(), id.to_string()], dir, timeout)
        })
        .flat_map(|text| parse_quota(&text))
        .collect()
}

/// Each OST's space by `lfs df`, when `lfs` is installed.
pub fn osts(dir: &Path, timeout: Duration) -> Vec<OstUsage> {
    run(&["df".to_string()], dir, timeout).map(|t| parse_df(&t)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded from real Lustre clients (lfs 2.x), as sites and users published them.

    /// `lfs quota -u USER /lustre7` (a genome centre's user guide): plain kbytes, no limit on files.
    const PLAIN: &str = "Disk quotas for usr your_account (uid 1234):
      Filesystem  kbytes   quota   limit   grace   files   quota   limit   grace
        /lustre7 982177580       0 1000000000       - 443208230 0      0       -
uid 1234 is using default file quota setting
";

    /// `lfs quota -h -u USER ./` and `-g GROUP ./` (a university cluster's notes): `-h` units.
    const HUMAN: &str = "Disk quotas for usr xdtr108 (uid 514559):
     Filesystem    used   quota   limit   grace   files   quota   limit   grace
             ./  792.3M      0k  9.537T       -       9       0 2000000       -
Disk quotas for grp sds184 (gid 11905):
     Filesystem    used   quota   limit   grace   files   quota   limit   grace
             ./   5.95G      0k     50T       -   60751       0       0       -
gid 11905 is using default file quota setting
";

    /// `lfs quota /fred` (OzSTAR's documentation): values in brackets (not confirmed by every server).
    const BRACKETS: &str = "Disk quotas for usr username (uid 1000):
     Filesystem    kbytes    quota   limit   grace   files   quota   limit   grace
          /fred [1041408]  5242880 6291456       -     [0]       0       0       -
";

    /// Composed in the layout of the recordings above (not itself a recording): over the soft limit (`*`,
    /// with the grace left), a long mount point printed on its own line.
    const OVER: &str = "Disk quotas for prj 1001 (pid 1001):
     Filesystem  kbytes   quota   limit   grace   files   quota   limit   grace
/lustre/scratch/projects/climate
                5242884*  5242880 6291456 6d23h59m55s   12345       0       0       -
";

    #[test]
    fn lfs_quota_as_lustre_prints_it() {
        let q = parse_quota(PLAIN);
        assert_eq!(q.len(), 1);
        assert_eq!((q[0].kind.as_str(), q[0].id, q[0].source.as_str()), ("user", 1234, "lfs quota"));
        assert_eq!(q[0].bytes_used, 982_177_580 * 1024);
        assert_eq!((q[0].bytes_soft, q[0].bytes_hard), (None, Some(1_000_000_000 * 1024)));
        assert_eq!((q[0].inodes_used, q[0].inodes_soft, q[0].inodes_hard), (443_208_230, None, None));

        let q = parse_quota(HUMAN);
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].bytes_used, (792.3 * 1024.0 * 1024.0f64).round() as u64);
        assert_eq!(q[0].bytes_hard, Some((9.537 * 1024f64.powi(4)).round() as u64));
        assert_eq!(q[0].inodes_hard, Some(2_000_000));
        assert_eq!((q[1].kind.as_str(), q[1].id), ("group", 11905));
        assert_eq!(q[1].bytes_hard, Some(50 * 1024u64.pow(4)));

        let q = parse_quota(BRACKETS);
        assert_eq!(q[0].bytes_used, 1_041_408 * 1024);
        assert_eq!((q[0].bytes_soft, q[0].bytes_hard), (Some(5_242_880 * 1024), Some(6_291_456 * 1024)));

        let q = parse_quota(OVER);
        assert_eq!((q[0].kind.as_str(), q[0].id), ("project", 1001));
        assert_eq!(q[0].bytes_used, 5_242_884 * 1024);
        assert_eq!(q[0].bytes_soft, Some(5_242_880 * 1024));
        assert_eq!(q[0].inodes_used, 12345);
    }

    #[test]
    fn no_limit_and_garbage_give_no_quota() {
        let none = "Disk quotas for usr account (uid 1):\n     Filesystem  kbytes quota limit grace files quota limit grace\n/lus/lustre1/x 0 0 0 - 0 0 0 -\n";
        assert!(parse_quota(none).is_empty());
        assert!(parse_quota("lfs quota: '/home/x' not on a mounted Lustre filesystem\n").is_empty());
        assert!(parse_quota("Disk quotas for usr a (uid 1):\n/x 1 2\n").is_empty());
    }

    /// `lfs df` of a file system with one full OST (the Lustre manual's "Handling Full OSTs").
    const DF: &str = "UUID                   1K-blocks        Used   Available Use% Mounted on
testfs-MDT0000_UUID      4105560      163108     3716720   4% /mnt/testfs[MDT:0]
testfs-OST0000_UUID    103145380   103145380           0 100% /mnt/testfs[OST:0]
testfs-OST0001_UUID    103145380     3123128    94778636   3% /mnt/testfs[OST:1]

filesystem_summary:    206290760   106268508    94778636  52% /mnt/testfs
";

    #[test]
    fn lfs_df_lists_each_ost() {
        let osts = parse_df(DF);
        assert_eq!(osts.len(), 2);
        assert_eq!(osts[0].name, "testfs-OST0000");
        assert_eq!((osts[0].bytes_total, osts[0].bytes_free), (103_145_380 * 1024, 0));
        assert_eq!(osts[1].bytes_free, 94_778_636 * 1024);
    }
}
