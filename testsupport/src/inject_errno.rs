//! inject-errno: runs a command with chosen lock syscalls failing with a chosen errno, the way a Lustre,
//! DVS or NFS mount would make them fail. Test support only; never shipped.
//!
//! ```text
//! inject-errno --flock 524 [--fcntl 37] [--open-trunc 1] [--open-direct 22] [--write 122] -- COMMAND [ARGS...]
//! ```
//!
//! It installs a seccomp filter (no_new_privs is set, so no privileges are needed) and execs COMMAND; the
//! filter is inherited by every process the command starts. `--flock` makes flock(2) fail; `--fcntl`
//! makes the fcntl lock commands (F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW) fail; other fcntl calls
//! work as usual. `--open-trunc` makes every open with O_TRUNC (open, openat, creat) fail, the way storage
//! that refuses to truncate (append-only or WORM files) answers; opens without O_TRUNC work.
//! `--open-direct` makes every open with O_DIRECT fail, the way a file system without direct I/O answers
//! (EINVAL: tmpfs before Linux 6.6, some FUSE and network file systems). `--write`
//! makes write, pwrite64, writev, pwritev and pwritev2 on any descriptor above 2 fail, the way a full
//! file system (ENOSPC, 28) or an exhausted quota (EDQUOT, 122) answers; stdin, stdout and stderr keep
//! working, so the command can still report.

use seccompiler::{BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch};
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;

fn usage() -> ! {
    eprintln!("usage: inject-errno [--flock ERRNO] [--fcntl ERRNO] [--open-trunc ERRNO] [--open-direct ERRNO] [--write ERRNO] -- COMMAND [ARGS...]");
    std::process::exit(2)
}

fn filter(rules: BTreeMap<i64, Vec<SeccompRule>>, errno: u32) -> BpfProgram {
    let arch = TargetArch::try_from(std::env::consts::ARCH).unwrap_or_else(|e| {
        eprintln!("inject-errno: unsupported architecture: {e:?}");
        std::process::exit(2)
    });
    SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(errno), arch)
        .and_then(|f| f.try_into())
        .unwrap_or_else(|e| {
            eprintln!("inject-errno: cannot build the seccomp filter: {e}");
            std::process::exit(2)
        })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(sep) = args.iter().position(|a| a == "--") else { usage() };
    let (opts, command) = (&args[..sep], &args[sep + 1..]);
    if command.is_empty() || opts.len() % 2 != 0 {
        usage();
    }
    let mut programs = Vec::new();
    for pair in opts.chunks(2) {
        let errno: u32 = pair[1].parse().unwrap_or_else(|_| usage());
        let mut rules = BTreeMap::new();
        match pair[0].as_str() {
            "--flock" => {
                rules.insert(libc::SYS_flock, vec![]);
            }
            "--fcntl" => {
                let cmds = [libc::F_SETLK, libc::F_SETLKW, libc::F_OFD_SETLK, libc::F_OFD_SETLKW];
                let per_cmd = cmds
                    .iter()
                    .map(|c| {
                        SeccompRule::new(vec![
                            SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, *c as u64).unwrap()
                        ])
                        .unwrap()
                    })
                    .collect();
                rules.insert(libc::SYS_fcntl, per_cmd);
            }
            flag @ ("--open-trunc" | "--open-direct") => {
                let trunc = if flag == "--open-trunc" { libc::O_TRUNC } else { libc::O_DIRECT } as u64;
                let flags_at = |arg: u8| {
                    vec![SeccompRule::new(vec![SeccompCondition::new(
                        arg,
                        SeccompCmpArgLen::Dword,
                        SeccompCmpOp::MaskedEq(trunc),
                        trunc,
                    )
                    .unwrap()])
                    .unwrap()]
                };
                rules.insert(libc::SYS_open, flags_at(1));
                rules.insert(libc::SYS_openat, flags_at(2));
                if flag == "--open-trunc" {
                    // creat(2) is open with O_CREAT|O_WRONLY|O_TRUNC.
                    rules.insert(libc::SYS_creat, vec![]);
                }
            }
            "--write" => {
                let above_stderr = || {
                    vec![SeccompRule::new(vec![SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Gt, 2).unwrap()]).unwrap()]
                };
                for call in [
                    libc::SYS_write,
                    libc::SYS_pwrite64,
                    libc::SYS_writev,
                    libc::SYS_pwritev,
                    libc::SYS_pwritev2,
                ] {
                    rules.insert(call, above_stderr());
                }
            }
            _ => usage(),
        }
        programs.push(filter(rules, errno));
    }
    for prog in &programs {
        if let Err(e) = seccompiler::apply_filter(prog) {
            eprintln!("inject-errno: cannot install the seccomp filter: {e}");
            std::process::exit(2);
        }
    }
    let err = std::process::Command::new(&command[0]).args(&command[1..]).exec();
    eprintln!("inject-errno: cannot run {}: {err}", command[0]);
    std::process::exit(127)
}
