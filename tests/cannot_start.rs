//! A program that cannot start must never pass: real programs built here that the kernel or glibc's
//! loader refuses — a 32-bit program on this 64-bit node, a musl program, a program whose interpreter is
//! of another ELF class, a symbol version (`-Wl,--version-script`) its library lacks, a library on a
//! tmpfs mounted `noexec`, a library this user cannot read. Each is run for real first; then
//! `h5doctor ldd` must exit 1 and say which error it is, with the loader's own words (compared with what
//! running the program printed), and `h5doctor check --binary` must give the finding with a fix that
//! fits the cause.
//!
//! The noexec and unreadable cases need root (a mount namespace with `unshare -m`, another user with
//! `setpriv`, both from util-linux); without it they fail and say so.

mod common;
mod elf_fixtures;
use common::{evidence, finding, fix_texts, slugs, Run};
use elf_fixtures::*;
use serde_json::Value;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

const H5DOCTOR: &str = env!("CARGO_BIN_EXE_h5doctor");

/// Runs `argv` with exactly this loader environment (no LD_LIBRARY_PATH, no LD_PRELOAD), optionally
/// wrapped (`setpriv ...`, `unshare ...`).
fn run(wrapper: &[&OsStr], argv: &[&OsStr]) -> Run {
    let all: Vec<&OsStr> = wrapper.iter().chain(argv).copied().collect();
    let out = Command::new(all[0])
        .args(&all[1..])
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("LD_PRELOAD")
        .env_remove("H5DOCTOR_RULES_PATH")
        .env_remove("HDF5_DIR")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {all:?}: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// `h5doctor ldd --json PROG` (wrapped): its exit code and the file's JSON.
fn ldd_json(wrapper: &[&OsStr], prog: &Path) -> (i32, Value) {
    let r = run(
        wrapper,
        &[OsStr::new(H5DOCTOR), OsStr::new("ldd"), OsStr::new("--json"), prog.as_os_str()],
    );
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", r.stdout, r.stderr));
    (r.code, doc["files"][0].clone())
}

/// `h5doctor check --only libraries --json --binary PROG` (wrapped).
fn check(wrapper: &[&OsStr], prog: &Path) -> (Run, Value) {
    check_each(wrapper, &[prog])
}

/// `h5doctor check --only libraries --json --binary PROG1 --binary PROG2 ...` (wrapped): one run.
fn check_each(wrapper: &[&OsStr], progs: &[&Path]) -> (Run, Value) {
    let args = ["check", "--no-default-dirs", "--only", "libraries", "--json"].map(OsStr::new);
    let binaries = progs.iter().flat_map(|p| [OsStr::new("--binary"), p.as_os_str()]);
    let argv: Vec<&OsStr> = [OsStr::new(H5DOCTOR)].into_iter().chain(args).chain(binaries).collect();
    let r = run(wrapper, &argv);
    let json = r.json();
    (r, json)
}

/// The one load error h5doctor's ldd reports for the file: (object, error).
fn only_error(file: &Value) -> (&str, &Value) {
    let errors = file["errors"].as_array().unwrap_or_else(|| panic!("no errors: {file:#}"));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    (errors[0]["object"].as_str().unwrap(), &errors[0]["error"])
}

/// Runs `prog` under `wrap` and requires the loader to refuse it with `loader_error` (its words after
/// "PROG: error while loading shared libraries: "); then `h5doctor ldd --json PROG` under the same
/// wrapper must exit 1 with exactly one load error, whose `loader_says` is that same line. Returns the
/// line and ldd's JSON for the file, for the caller's own assertions on the error.
fn assert_ldd_agrees(wrap: &[&OsStr], prog: &Path, loader_error: &str) -> (String, Value) {
    let real = run(wrap, &[prog.as_os_str()]);
    let expected = format!("{}: error while loading shared libraries: {loader_error}", prog.display());
    assert_eq!(real.stderr.trim(), expected, "{real:?}");

    let (code, file) = ldd_json(wrap, prog);
    assert_eq!(code, 1, "{file:#}");
    let (_, error) = only_error(&file);
    assert_eq!(error["loader_says"], expected);
    (expected, file)
}

/// What the kernel says when asked to execute `prog` directly: the errno's text.
fn exec_error(prog: &Path) -> std::io::Error {
    match Command::new(prog).output() {
        Ok(out) => panic!("{} started (status {:?}), it should not", prog.display(), out.status),
        Err(e) => e,
    }
}

/// A 32-bit x86 ELF written by hand: the header, PT_INTERP naming `interp`, one PT_LOAD; `e_type` 2
/// (a program) or 3 (a shared object). What `gcc -m32` makes, where it cannot.
fn handmade_elf32(path: &Path, interp: &str, e_type: u16) {
    const BASE: u32 = 0x0804_8000;
    let interp_off = 52 + 2 * 32;
    let total = (interp_off + interp.len() + 1) as u32;
    let mut b: Vec<u8> = vec![0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let h16 = |b: &mut Vec<u8>, v: u16| b.extend_from_slice(&v.to_le_bytes());
    let h32 = |b: &mut Vec<u8>, v: u32| b.extend_from_slice(&v.to_le_bytes());
    h16(&mut b, e_type);
    h16(&mut b, 3); // EM_386
    h32(&mut b, 1);
    h32(&mut b, BASE); // e_entry
    h32(&mut b, 52); // e_phoff
    h32(&mut b, 0);
    h32(&mut b, 0);
    for v in [52u16, 32, 2, 40, 0, 0] {
        h16(&mut b, v);
    }
    // PT_INTERP, then PT_LOAD of the whole file.
    for v in [
        3,
        interp_off as u32,
        BASE + interp_off as u32,
        BASE + interp_off as u32,
        interp.len() as u32 + 1,
        interp.len() as u32 + 1,
        4,
        1,
    ] {
        h32(&mut b, v);
    }
    for v in [1, 0, BASE, BASE, total, total, 5, 0x1000] {
        h32(&mut b, v);
    }
    b.extend_from_slice(interp.as_bytes());
    b.push(0);
    std::fs::write(path, b).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A 32-bit x86 object: with `gcc -m32` where the compiler can (no 32-bit libraries needed: nothing is
/// linked), else by hand. `shared`: a shared object, else a PIE program asking for /lib/ld-linux.so.2.
fn elf32(fx: &Fx, rel: &str, shared: bool) -> PathBuf {
    let out = fx.path(rel);
    let src = fx.path("start32.c");
    std::fs::write(&src, "void _start(void) { for (;;); }\n").unwrap();
    let mut cmd = Command::new("cc");
    cmd.args(["-m32", "-nostdlib", "-fPIC", "-o"]).arg(&out).arg(&src);
    cmd.arg(if shared { "-shared" } else { "-pie" });
    let built = cmd.output().is_ok_and(|o| o.status.success());
    if !built {
        handmade_elf32(&out, "/lib/ld-linux.so.2", if shared { 3 } else { 2 });
    }
    out
}

/// A 64-bit C program (`int main`) linked with `args`.
fn program(fx: &Fx, rel: &str, src: &str, args: &[&str]) -> PathBuf {
    let out = fx.path(rel);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let c = out.with_extension("c");
    std::fs::write(&c, src).unwrap();
    let o = Command::new("cc").arg("-o").arg(&out).arg(&c).args(args).output().expect("cc runs");
    assert!(o.status.success(), "cc failed for {rel}: {}", String::from_utf8_lossy(&o.stderr));
    out
}

fn patchelf_interpreter(prog: &Path, interp: &str) {
    let o = Command::new("patchelf")
        .arg("--set-interpreter")
        .arg(interp)
        .arg(prog)
        .output()
        .expect("patchelf is needed (apt-get install patchelf)");
    assert!(o.status.success(), "patchelf: {}", String::from_utf8_lossy(&o.stderr));
}

fn assert_root(what: &str) {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "{what} needs root (unshare/setpriv from util-linux)");
}

#[test]
fn a_32_bit_program_on_a_64_bit_node_is_lib_interpreter_missing() {
    let fx = Fx::new();
    let prog = elf32(&fx, "prog32", false);
    // What really happens: execve fails with ENOENT for a file that is there; bash says so its way.
    let e = exec_error(&prog);
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
    let bash = run(&[], &[OsStr::new("bash"), OsStr::new("-c"), prog.as_os_str()]);
    assert_eq!(bash.code, 127);

    let (code, file) = ldd_json(&[], &prog);
    assert_eq!(code, 1, "{file:#}");
    assert_eq!(file["starts"], false);
    let (object, error) = only_error(&file);
    assert_eq!(object, prog.to_str().unwrap());
    assert_eq!(error["kind"], "interpreter-missing");
    assert_eq!(error["file"], "/lib/ld-linux.so.2");
    let says = error["loader_says"].as_str().unwrap();
    let shell_line = format!("{}: cannot execute: required file not found", prog.display());
    assert!(bash.stderr.contains(&shell_line), "bash said: {}", bash.stderr);
    assert!(says.starts_with(&format!("bash: {shell_line}")), "{says}");
    assert!(says.contains("No such file or directory"), "the errno execve gives: {says}");

    // The same with the ELF written by hand (what a node without `gcc -m32` tests).
    let handmade = fx.path("handmade32");
    handmade_elf32(&handmade, "/lib/ld-linux.so.2", 2);
    assert_eq!(exec_error(&handmade).raw_os_error(), Some(libc::ENOENT));
    let (code, file) = ldd_json(&[], &handmade);
    assert_eq!(
        (code, &only_error(&file).1["kind"]),
        (1, &Value::from("interpreter-missing")),
        "{file:#}"
    );

    let human = run(&[], &[OsStr::new(H5DOCTOR), OsStr::new("ldd"), prog.as_os_str()]);
    assert_eq!(human.code, 1);
    assert!(
        human
            .stdout
            .contains("✗ interpreter-missing: its program interpreter (PT_INTERP) /lib/ld-linux.so.2 does not exist on this node"),
        "{}",
        human.stdout
    );

    let (r, report) = check(&[], &prog);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert_eq!(slugs(&report), ["lib-interpreter-missing"]);
    let f = finding(&report, "lib-interpreter-missing");
    assert_eq!(f["id"], "H5D307");
    assert_eq!(
        f["title"],
        format!(
            "{} cannot start: its program interpreter /lib/ld-linux.so.2 is missing or unusable here",
            prog.display()
        )
    );
    assert_eq!(evidence(f, "binary.loader_says")[0], says);
    let fixes = fix_texts(f);
    assert_eq!(fixes.len(), 3, "{fixes:?}");
    assert_eq!(
        fixes[2], "apt-get install libc6-i386   # RHEL: dnf install glibc.i686",
        "a 32-bit x86 program gets the 32-bit loader fix"
    );
    assert_eq!(f["fixes"][2]["kind"], "admin");
}

#[test]
fn a_musl_program_and_an_interpreter_of_another_class() {
    let fx = Fx::new();
    let musl = program(&fx, "musl", "int main(void) { return 0; }\n", &[]);
    patchelf_interpreter(&musl, "/lib/ld-musl-x86_64.so.1");
    let e = exec_error(&musl);
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
    let (code, file) = ldd_json(&[], &musl);
    assert_eq!(code, 1);
    let (_, error) = only_error(&file);
    assert_eq!(error["kind"], "interpreter-missing");
    assert!(error["explanation"].as_str().unwrap().contains("musl libc, not glibc"), "{error:#}");
    let (r, report) = check(&[], &musl);
    assert_eq!(
        (r.code, slugs(&report)),
        (1, vec!["lib-interpreter-missing".to_string()]),
        "{}",
        r.stdout
    );
    let fixes = fix_texts(finding(&report, "lib-interpreter-missing"));
    assert_eq!(
        fixes,
        [
            "rebuild the program on this node with this node's compiler, or take the build made for this system".to_string(),
            format!("apptainer exec <the container image it was built in> {}", musl.display()),
        ],
        "no 32-bit package for a 64-bit musl program"
    );

    // PT_INTERP names a file that exists, but is a 32-bit object: the kernel says ELIBBAD.
    let ld32 = elf32(&fx, "ld32.so", true);
    let wrong = program(&fx, "wrong", "int main(void) { return 0; }\n", &[]);
    patchelf_interpreter(&wrong, ld32.to_str().unwrap());
    let e = exec_error(&wrong);
    assert_eq!(e.raw_os_error(), Some(libc::ELIBBAD), "{e}");
    let (code, file) = ldd_json(&[], &wrong);
    assert_eq!(code, 1);
    let (_, error) = only_error(&file);
    assert_eq!(error["kind"], "interpreter-unusable");
    let strerror = e.to_string();
    let strerror = strerror.split(" (os error").next().unwrap();
    assert_eq!(error["loader_says"], format!("{}: {strerror}", wrong.display()));
    let (r, report) = check(&[], &wrong);
    assert_eq!(
        (r.code, slugs(&report)),
        (1, vec!["lib-interpreter-missing".to_string()]),
        "{}",
        r.stdout
    );
    let problem = evidence(finding(&report, "lib-interpreter-missing"), "binary.interpreter_problem")[0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(problem.contains("is ELFCLASS32"), "{problem}");
}

/// libx.so defines VER_1 (f1) and, in its newer build, VER_2 (f2); the program is linked against the
/// newer one and finds the older one through its RUNPATH.
fn version_case(fx: &Fx, lib_name: &str) -> (PathBuf, PathBuf) {
    let v2 = fx.version_script("v2.map", "VER_1 { global: f1; local: *; };\nVER_2 { global: f2; } VER_1;\n");
    let v1 = fx.version_script("v1.map", "VER_1 { global: f1; f2; local: *; };\n");
    let src = "int f1(void) { return 1; } int f2(void) { return 2; }\n";
    fx.so(&format!("new/{lib_name}"), Some(lib_name), src, &[&v2]);
    let old = fx.so(&format!("old/{lib_name}"), Some(lib_name), src, &[&v1]);
    let prog = program(
        fx,
        "bin/prog",
        "int f1(void); int f2(void); int main(void) { return f1() + f2() - 3; }\n",
        &[
            &format!("-L{}", fx.path("new").display()),
            &format!("-l:{lib_name}"),
            &format!("-Wl,--enable-new-dtags,-rpath,{}", fx.path("old").display()),
        ],
    );
    (prog, old)
}

#[test]
fn a_symbol_version_the_library_lacks_is_lib_version_missing_for_any_library() {
    let fx = Fx::new();
    let (prog, old) = version_case(&fx, "libx.so");
    // What really happens, word for word.
    let real = run(&[], &[prog.as_os_str()]);
    assert_ne!(real.code, 0);
    let expected = format!(
        "{}: {}: version `VER_2' not found (required by {})",
        prog.display(),
        old.display(),
        prog.display()
    );
    assert_eq!(real.stderr.trim(), expected);

    let (code, file) = ldd_json(&[], &prog);
    assert_eq!(code, 1, "the program would not start: ldd exits 1");
    let (object, error) = only_error(&file);
    assert_eq!(object, prog.to_str().unwrap(), "the error is on the object that needs the version");
    assert_eq!(error["kind"], "version-missing");
    assert_eq!(error["version"], "VER_2");
    assert_eq!(error["file"], old.to_str().unwrap());
    assert_eq!(error["loader_says"], expected, "the loader's own words");
    let flat = run(
        &[],
        &[OsStr::new(H5DOCTOR), OsStr::new("ldd"), OsStr::new("--flat"), prog.as_os_str()],
    );
    assert_eq!(flat.code, 1);
    assert!(flat.stdout.contains(&format!("\terror: {expected}\n")), "{}", flat.stdout);

    let (r, report) = check(&[], &prog);
    assert_eq!(r.code, 1);
    assert_eq!(
        slugs(&report),
        ["lib-version-missing"],
        "not an HDF5/MPI finding for a plain library"
    );
    let f = finding(&report, "lib-version-missing");
    assert_eq!(f["id"], "H5D308");
    assert_eq!(
        evidence(f, "binary.versions_missing_other"),
        &serde_json::json!([format!("VER_2 (required by {}, not in {})", prog.display(), old.display())])
    );
    assert_eq!(evidence(f, "binary.loader_says")[0], expected);
    assert!(
        // No module system here: the plain advice (tests/module_fixes.rs has the module line).
        fix_texts(f)[0] == "Put the directory of the library build the program was linked with first in LD_LIBRARY_PATH",
        "{:?}",
        fix_texts(f)
    );
    assert!(!fix_texts(f).iter().any(|t| t.contains("HDF5")), "{:?}", fix_texts(f));

    // With the newer build first in the search, it runs, and h5doctor agrees.
    let new = fx.path("new");
    let env = [("LD_LIBRARY_PATH", new.to_str().unwrap())];
    let ok = Command::new(&prog).env("LD_LIBRARY_PATH", &new).status().unwrap();
    assert!(ok.success());
    let (code, file) = assert_agrees(&prog, &env);
    assert_eq!((code, &file["starts"]), (0, &Value::Bool(true)), "{file:#}");
}

#[test]
fn a_version_missing_in_an_hdf5_library_keeps_the_hdf5_wording() {
    let fx = Fx::new();
    let (prog, _) = version_case(&fx, "libhdf5_fake.so.1");
    let real = run(&[], &[prog.as_os_str()]);
    assert!(real.stderr.contains("version `VER_2' not found"), "{}", real.stderr);
    let (r, report) = check(&[], &prog);
    assert_eq!(r.code, 1);
    assert_eq!(slugs(&report), ["lib-undefined-symbol"]);
    let f = finding(&report, "lib-undefined-symbol");
    assert_eq!(evidence(f, "binary.versions_missing_hdf5_mpi").as_array().unwrap().len(), 1);
}

/// Runs `argv` in a private mount namespace where `mnt` is a small tmpfs mounted noexec holding a
/// copy of `lib` (the namespace, and the mount, end with the command).
fn in_noexec_mount<'a>(mnt: &'a Path, lib: &'a Path) -> Vec<&'a OsStr> {
    [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        r#"mount -t tmpfs -o noexec,size=4m h5doctor-noexec "$1" && cp "$2" "$1"/ && shift 2 && exec "$@""#,
        "sh",
    ]
    .iter()
    .map(OsStr::new)
    .chain([mnt.as_os_str(), lib.as_os_str()])
    .collect()
}

#[test]
fn a_library_on_a_noexec_mount_is_lib_noexec_mount() {
    assert_root("mounting a noexec tmpfs");
    let fx = Fx::new();
    let lib = fx.so("build/libx.so", Some("libx.so"), "int f1(void) { return 1; }\n", &[]);
    let mnt = fx.path("noexec");
    std::fs::create_dir_all(&mnt).unwrap();
    let prog = program(
        &fx,
        "prog",
        "int f1(void); int main(void) { return f1() - 1; }\n",
        &[
            &format!("-L{}", fx.path("build").display()),
            "-lx",
            &format!("-Wl,--enable-new-dtags,-rpath,{}", mnt.display()),
        ],
    );
    let wrap = in_noexec_mount(&mnt, &lib);
    let real = run(&wrap, &[prog.as_os_str()]);
    assert_ne!(real.code, 0, "{real:?}");
    let expected = format!(
        "{}: error while loading shared libraries: libx.so: failed to map segment from shared object",
        prog.display()
    );
    assert_eq!(real.stderr.trim(), expected);
    // Outside the namespace the directory is empty again: the mount never leaks.
    assert!(std::fs::read_dir(&mnt).unwrap().next().is_none());

    let (code, file) = ldd_json(&wrap, &prog);
    assert_eq!(code, 1, "{file:#}");
    let (object, error) = only_error(&file);
    let in_mount = mnt.join("libx.so");
    assert_eq!(object, in_mount.to_str().unwrap(), "the error is on the library");
    assert_eq!(error["kind"], "noexec-mount");
    assert_eq!(error["mount"], mnt.to_str().unwrap());
    assert_eq!(error["loader_says"], expected);

    let (r, report) = check(&wrap, &prog);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(slugs(&report), ["lib-noexec-mount"]);
    let f = finding(&report, "lib-noexec-mount");
    assert_eq!(f["id"], "H5D309");
    assert_eq!(
        f["title"],
        format!(
            "{} cannot start: code on a file system mounted noexec ({})",
            prog.display(),
            mnt.display()
        )
    );
    assert_eq!(fix_texts(f)[1], format!("mount -o remount,exec {}", mnt.display()));
    assert_eq!(f["fixes"][1]["kind"], "admin");
    assert_eq!(evidence(f, "binary.loader_says")[0], expected);
}

/// `noexec` is a flag of the mount, not of the device: two bind mounts of one directory (one device,
/// one file system), one of them `noexec`, and a program whose RUNPATH finds one library through each.
/// The loader maps the first and refuses the second; h5doctor must tell the two mounts apart although
/// it asks each mount once (a verdict kept per device would pass both or fail both).
///
/// Then one `ldd` run (and one `check` run) over three programs that reach the *same* files through
/// different mounts: `prog` (liba through the exec mount, libb through the noexec one), `a_via_noexec`
/// and `b_via_exec` (the other way round). Each program's loader maps through its own path's mount, so
/// each must get its own answer: a verdict kept per file (device and inode) would give `a_via_noexec`
/// the exec mount's answer for liba, or `prog` the noexec one, whichever program came first.
#[test]
fn two_bind_mounts_of_one_device_differ_in_noexec_and_ldd_tells_them_apart() {
    assert_root("bind mounts in a private mount namespace");
    let fx = Fx::new();
    fx.so("store/a/liba.so", Some("liba.so"), "int fa(void) { return 1; }\n", &[]);
    fx.so("store/b/libb.so", Some("libb.so"), "int fb(void) { return 1; }\n", &[]);
    let (store, exec, noexec) = (fx.path("store"), fx.path("exec"), fx.path("noexec"));
    for dir in [&exec, &noexec] {
        std::fs::create_dir_all(dir).unwrap();
    }
    let prog = program(
        &fx,
        "prog",
        "int fa(void); int fb(void); int main(void) { return fa() + fb() - 2; }\n",
        &[
            &format!("-L{}", store.join("a").display()),
            &format!("-L{}", store.join("b").display()),
            "-la",
            "-lb",
            &format!("-Wl,--enable-new-dtags,-rpath,{}/a:{}/b", exec.display(), noexec.display()),
        ],
    );
    let wrap: Vec<&OsStr> = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        r#"mount --bind "$1" "$2" && mount --bind "$1" "$3" && mount -o remount,bind,noexec "$3" && shift 3 && exec "$@""#,
        "sh",
    ]
    .iter()
    .map(OsStr::new)
    .chain([store.as_os_str(), exec.as_os_str(), noexec.as_os_str()])
    .collect();
    let (expected, file) = assert_ldd_agrees(&wrap, &prog, "libb.so: failed to map segment from shared object");
    let (object, error) = only_error(&file);
    assert_eq!(
        object,
        noexec.join("b/libb.so").to_str().unwrap(),
        "only the library behind the noexec mount"
    );
    assert_eq!(error["kind"], "noexec-mount");
    assert_eq!(error["mount"], noexec.to_str().unwrap());
    let paths: Vec<&str> = file["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["path"].as_str())
        .collect();
    assert!(paths.contains(&exec.join("a/liba.so").to_str().unwrap()), "{paths:?}");

    let a_via_noexec = program(
        &fx,
        "a_via_noexec",
        "int fa(void); int main(void) { return fa() - 1; }\n",
        &[
            &format!("-L{}", store.join("a").display()),
            "-la",
            &format!("-Wl,--enable-new-dtags,-rpath,{}/a", noexec.display()),
        ],
    );
    let b_via_exec = program(
        &fx,
        "b_via_exec",
        "int fb(void); int main(void) { return fb() - 1; }\n",
        &[
            &format!("-L{}", store.join("b").display()),
            "-lb",
            &format!("-Wl,--enable-new-dtags,-rpath,{}/b", exec.display()),
        ],
    );
    let real = run(&wrap, &[a_via_noexec.as_os_str()]);
    let a_refused = format!(
        "{}: error while loading shared libraries: liba.so: failed to map segment from shared object",
        a_via_noexec.display()
    );
    assert_eq!(real.stderr.trim(), a_refused, "{real:?}");
    let real = run(&wrap, &[b_via_exec.as_os_str()]);
    assert_eq!((real.code, real.stderr.as_str()), (0, ""), "the loader starts b_via_exec: {real:?}");

    let programs = [prog.as_path(), a_via_noexec.as_path(), b_via_exec.as_path()];
    let argv: Vec<&OsStr> = ["ldd", "--json"]
        .map(OsStr::new)
        .into_iter()
        .chain(programs.iter().map(|p| p.as_os_str()))
        .collect();
    let r = run(&wrap, &[&[OsStr::new(H5DOCTOR)], argv.as_slice()].concat());
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc = r.json();
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "{doc:#}");
    let (object, error) = only_error(&files[0]);
    assert_eq!(object, noexec.join("b/libb.so").to_str().unwrap(), "prog: as in its own run");
    assert_eq!(error["loader_says"], expected);
    let (object, error) = only_error(&files[1]);
    assert_eq!(
        object,
        noexec.join("a/liba.so").to_str().unwrap(),
        "a_via_noexec maps liba through the noexec mount, though prog reaches the same file through the exec one"
    );
    assert_eq!(error["kind"], "noexec-mount");
    assert_eq!(error["mount"], noexec.to_str().unwrap());
    assert_eq!(error["loader_says"], a_refused);
    assert_eq!(
        (&files[2]["starts"], &files[2]["errors"]),
        (&Value::Bool(true), &serde_json::json!([])),
        "b_via_exec maps libb through the exec mount, though prog reaches the same file through the noexec one: {:#}",
        files[2]
    );

    // check's library group keeps one cache for every --binary of a run: the same answers.
    let (r, report) = check_each(&wrap, &programs);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(slugs(&report), ["lib-noexec-mount", "lib-noexec-mount"], "{report:#}");
    let mut titles: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    titles.sort_unstable();
    let title = |p: &Path| {
        format!(
            "{} cannot start: code on a file system mounted noexec ({})",
            p.display(),
            noexec.display()
        )
    };
    let mut expected_titles = [title(&prog), title(&a_via_noexec)];
    expected_titles.sort_unstable();
    assert_eq!(titles, expected_titles, "b_via_exec starts; the other two do not");
}

#[test]
fn a_library_this_user_cannot_read_is_lib_unreadable() {
    assert_root("running as another user");
    use std::os::unix::fs::PermissionsExt;
    let fx = Fx::new();
    std::fs::set_permissions(fx.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let lib = fx.so("lib/libx.so", Some("libx.so"), "int f1(void) { return 1; }\n", &[]);
    let prog = program(
        &fx,
        "prog",
        "int f1(void); int main(void) { return f1() - 1; }\n",
        &[
            &format!("-L{}", fx.path("lib").display()),
            "-lx",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib",
        ],
    );
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o600)).unwrap();
    let nobody: Vec<&OsStr> = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        .iter()
        .map(OsStr::new)
        .collect();
    let (_, file) = assert_ldd_agrees(&nobody, &prog, "libx.so: cannot open shared object file: No such file or directory");
    let (_, error) = only_error(&file);
    assert_eq!(error["kind"], "unreadable");
    assert_eq!(error["file"], lib.to_str().unwrap());

    let (r, report) = check(&nobody, &prog);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(slugs(&report), ["lib-unreadable"], "not lib-not-found: the file is there");
    let f = finding(&report, "lib-unreadable");
    assert_eq!(
        f["title"],
        format!("{} cannot start: {} is not readable by this user", prog.display(), lib.display())
    );
    assert_eq!(
        fix_texts(f)[0],
        format!("chmod a+r {}   # by its owner; every directory above it needs a+x", lib.display())
    );
    // As root it is readable: the program starts, and h5doctor agrees.
    let (code, file) = assert_agrees(&prog, &[]);
    assert_eq!((code, &file["starts"]), (0, &Value::Bool(true)));
}

/// A venv on a fresh noexec tmpfs in a private mount namespace, with the packages `fx`'s `src/` holds
/// copied into its site-packages (the loader refuses their extension modules there).
struct NoexecVenv {
    /// `unshare ... sh -c SETUP`: mounts the tmpfs, makes the venv, copies the packages, then runs the
    /// command appended to it.
    wrap: Vec<OsString>,
    python: PathBuf,
    site: PathBuf,
}

impl NoexecVenv {
    fn new(fx: &Fx, packages: &[&str]) -> Self {
        let (mnt, src) = (fx.path("noexec"), fx.path("src"));
        std::fs::create_dir_all(&mnt).unwrap();
        let copies: Vec<String> = packages.iter().map(|p| format!("\"$2\"/{p}")).collect();
        let setup = format!(
            r#"mount -t tmpfs -o noexec,size=16m h5doctor-noexec "$1" && mkdir "$1/home" && /usr/bin/python3 -m venv --without-pip "$1/venv" && sp=$("$1/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') && cp -r {} "$sp"/ && shift 2 && exec "$@""#,
            copies.join(" ")
        );
        let wrap = ["unshare", "-m", "--propagation", "private", "sh", "-c", &setup, "sh"]
            .into_iter()
            .map(OsString::from)
            .chain([mnt.clone().into_os_string(), src.into_os_string()])
            .collect();
        let venv = mnt.join("venv");
        NoexecVenv {
            wrap,
            python: venv.join("bin/python"),
            site: venv.join("lib/python3.11/site-packages"),
        }
    }

    /// Runs `argv` inside the namespace, once the venv is ready.
    fn run(&self, argv: &[&OsStr]) -> Run {
        let wrap: Vec<&OsStr> = self.wrap.iter().map(OsString::as_os_str).collect();
        run(&wrap, argv)
    }

    /// `h5doctor check --only python --json` of the venv's python, its import probe off, with `home` as
    /// $HOME (`noexec/home` is a directory on the noexec tmpfs).
    fn check_python(&self, home: &Path) -> Run {
        let args = [
            "check",
            "--only",
            "python",
            "--no-python-import",
            "--no-default-pythons",
            "--no-default-dirs",
            "--allow-exec-as-root",
            "--json",
            "--python",
        ];
        let home = format!("HOME={}", home.display());
        let argv: Vec<&OsStr> = [OsStr::new("env"), OsStr::new(&home), OsStr::new(H5DOCTOR)]
            .into_iter()
            .chain(args.iter().map(OsStr::new))
            .chain([self.python.as_os_str()])
            .collect();
        self.run(&argv)
    }
}

#[test]
fn an_h5py_whose_extensions_lie_on_a_noexec_mount_is_h5py_cannot_load() {
    assert_root("mounting a noexec tmpfs");
    let fx = Fx::new();
    // A stand-in h5py: an extension module and the library it brings in h5py.libs (as a wheel does);
    // the loader refuses both before any Python code would run, whatever the module holds.
    let libx = fx.so("src/h5py.libs/libx.so", Some("libx.so"), "int f1(void) { return 1; }\n", &[]);
    let ext = "defs.cpython-311-x86_64-linux-gnu.so";
    fx.so(
        &format!("src/h5py/{ext}"),
        None,
        "int f1(void); int defs(void) { return f1(); }\n",
        &[
            &format!("-L{}", libx.parent().unwrap().display()),
            "-lx",
            "-Wl,-rpath,$ORIGIN/../h5py.libs",
        ],
    );
    std::fs::write(fx.path("src/h5py/__init__.py"), "").unwrap();
    std::fs::write(fx.path("src/h5py/version.py"), "version = '3.99.0'\n").unwrap();
    let venv = NoexecVenv::new(&fx, &["h5py", "h5py.libs"]);
    let real = venv.run(&[venv.python.as_os_str(), OsStr::new("-c"), OsStr::new("import h5py.defs")]);
    let expected = format!(
        "ImportError: {}/h5py/{ext}: failed to map segment from shared object",
        venv.site.display()
    );
    assert!(real.stderr.contains(&expected), "{real:?}");

    // $HOME on an ordinary (exec) file system, writable.
    let home = fx.path("home");
    std::fs::create_dir_all(&home).unwrap();
    let r = venv.check_python(&home);
    let report = r.json();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(slugs(&report), ["h5py-cannot-load"]);
    let f = finding(&report, "h5py-cannot-load");
    assert_eq!(f["id"], "H5D420");
    let why = evidence(f, "python.h5py_cannot_load").as_array().unwrap();
    let first = why[0].as_str().unwrap();
    assert!(
        expected.ends_with(first.split(" (").next().unwrap()),
        "the loader's words, as the ImportError says them: {first}"
    );
    assert!(first.contains("mounted noexec at"), "{first}");
    assert!(
        why[1]
            .as_str()
            .unwrap()
            .starts_with("libx.so: failed to map segment from shared object"),
        "{why:?}"
    );
    // The fix names a real place and the real Python, where it said `python -m venv <a directory on a file
    // system mounted with exec, e.g. under $HOME> and reinstall h5py there`.
    let venv_dir = home.join("venvs/h5py-3.99.0");
    let line = format!(
        "/usr/bin/python3.11 -m venv {v} && {v}/bin/pip install h5py==3.99.0",
        v = venv_dir.display()
    );
    assert_eq!(fix_texts(f), [line.as_str()], "{f:#}");
    assert_eq!(f["fixes"][0]["verified"], false);
    assert_eq!(
        f["fixes"][0]["note"],
        format!(
            "{} is writable and not mounted noexec (mounted at / with {}); /usr/bin/python3.11 is the Python this interpreter runs; \
             then run the job with {}/bin/python: the loader maps code there, unlike on {}.",
            home.display(),
            mount_options_of("/"),
            venv_dir.display(),
            fx.path("noexec").display()
        )
    );
    // Its first half, run: the venv it makes loads the same extension modules (copied in as pip would
    // install them), which the noexec venv could not.
    let make = line.split(" && ").next().unwrap();
    let made = Command::new("sh").arg("-c").arg(make).output().unwrap();
    assert!(made.status.success(), "{made:?}");
    let site = venv_dir.join("lib/python3.11/site-packages");
    for p in ["h5py", "h5py.libs"] {
        assert!(Command::new("cp")
            .arg("-r")
            .arg(fx.path(&format!("src/{p}")))
            .arg(&site)
            .status()
            .unwrap()
            .success());
    }
    let import = Command::new(venv_dir.join("bin/python"))
        .args(["-c", "import h5py.defs"])
        .output()
        .unwrap();
    // The stand-in is no Python module (no PyInit_defs): the loader mapped it, and only Python's own check fails.
    let said = String::from_utf8_lossy(&import.stderr);
    assert!(said.contains("dynamic module does not define module export function"), "{said}");
    assert!(!said.contains("failed to map segment"), "{said}");
}

/// The options of the mount at `point`, as /proc/self/mountinfo's per-mount field gives them.
fn mount_options_of(point: &str) -> String {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .rfind(|f| f.get(4) == Some(&point))
        .map(|f| f[5].to_string())
        .unwrap()
}

/// A stand-in HDF5 filter plugin (the loader's refusal comes before any HDF5 entry point is looked up).
fn plugin(fx: &Fx) -> PathBuf {
    fx.so(
        "plugin-src/libh5fake.so",
        Some("libh5fake.so"),
        "int H5PLget_plugin_type(void) { return 0; }\nconst void *H5PLget_plugin_info(void) { return 0; }\n",
        &[],
    )
}

#[test]
fn an_hdf5_plugin_on_a_noexec_mount_is_refused_by_the_static_loader_check() {
    assert_root("mounting a noexec tmpfs");
    let fx = Fx::new();
    let lib = plugin(&fx);
    let mnt = fx.path("plugins");
    std::fs::create_dir_all(&mnt).unwrap();
    let copy = mnt.join("libh5fake.so");
    let wrap = in_noexec_mount(&mnt, &lib);
    let plugin_path = format!("HDF5_PLUGIN_PATH={}", mnt.display());
    // `check --only plugins --json` inside the mount namespace, with that plugin path (and a probe, when given).
    let check_plugins = |probe: Option<&str>| {
        let probe_var = probe.map(|p| format!("H5DOCTOR_PROBE={p}"));
        let argv: Vec<&OsStr> = [OsStr::new("env"), OsStr::new(&plugin_path)]
            .into_iter()
            .chain(probe_var.as_deref().map(OsStr::new))
            .chain([H5DOCTOR, "check", "--no-default-dirs", "--only", "plugins", "--json"].map(OsStr::new))
            .collect();
        let r = run(&wrap, &argv);
        let report = r.json();
        (r, report)
    };

    // With h5doctor-probe: HDF5's real dlopen of the plugin fails (plugin-load-failed), and the static
    // check says the same words, with the mount point.
    let (r, report) = check_plugins(None);
    assert_eq!(slugs(&report), ["plugin-load-failed"], "{}", r.stderr);
    let f = finding(&report, "plugin-load-failed");
    let dlopen_says = evidence(f, "plugin_dir.load_failures")[0].as_str().unwrap().to_string();
    let expected = format!("{}: failed to map segment from shared object", copy.display());
    assert!(dlopen_says.ends_with(&expected), "the real dlopen: {dlopen_says}");
    let refuses = evidence(f, "plugin_dir.loader_refuses")[0].as_str().unwrap().to_string();
    assert!(refuses.starts_with(&format!("libh5fake.so: {expected} (")), "{refuses}");
    assert!(refuses.contains("mounted noexec at"), "{refuses}");

    // Without a probe to load it (none found), only the static check can tell: plugin-cannot-load.
    let (r, report) = check_plugins(Some("/nonexistent/h5doctor-probe"));
    assert_eq!(report["facts"]["plugins"]["status"], "inconclusive", "{}", r.stderr);
    assert_eq!(slugs(&report), ["plugin-cannot-load"]);
    let f = finding(&report, "plugin-cannot-load");
    assert_eq!(f["id"], "H5D605");
    assert_eq!(f["title"], format!("The loader would refuse plugin libraries in {}", mnt.display()));
    let refuses_alone = evidence(f, "plugin_dir.loader_refuses")[0].as_str().unwrap();
    assert_eq!(refuses_alone, refuses, "the same account with or without the probe");
    assert!(fix_texts(f)[0].contains("file system mounted with exec"), "{f:#}");
    assert_eq!(r.code, 0, "a warning");

    // On an ordinary directory the same plugin passes the static check.
    let plain = format!("HDF5_PLUGIN_PATH={}", lib.parent().unwrap().display());
    let r = run(
        &[],
        &[
            OsStr::new("env"),
            OsStr::new(&plain),
            OsStr::new("H5DOCTOR_PROBE=/nonexistent/h5doctor-probe"),
            OsStr::new(H5DOCTOR),
            OsStr::new("check"),
            OsStr::new("--no-default-dirs"),
            OsStr::new("--only"),
            OsStr::new("plugins"),
            OsStr::new("--json"),
        ],
    );
    let report = r.json();
    assert!(slugs(&report).is_empty(), "{report:#}");
    assert_eq!(
        report["facts"]["plugins"]["dirs"][0]["plugins"][0]["loader_refuses"],
        serde_json::json!([])
    );
}

#[test]
fn mpi4py_whose_extension_lies_on_a_noexec_mount_is_mpi4py_cannot_load() {
    assert_root("mounting a noexec tmpfs");
    let fx = Fx::new();
    let ext = "MPI.cpython-311-x86_64-linux-gnu.so";
    fx.so(&format!("src/mpi4py/{ext}"), None, "int PyInit_MPI(void) { return 0; }\n", &[]);
    std::fs::write(fx.path("src/mpi4py/__init__.py"), "__version__ = '3.1.4'\n").unwrap();
    let venv = NoexecVenv::new(&fx, &["mpi4py"]);
    // What the user's program gets.
    let real = venv.run(&[venv.python.as_os_str(), OsStr::new("-c"), OsStr::new("from mpi4py import MPI")]);
    let expected = format!(
        "ImportError: {}/mpi4py/{ext}: failed to map segment from shared object",
        venv.site.display()
    );
    assert!(real.stderr.contains(&expected), "{real:?}");

    // $HOME on the noexec tmpfs too: the venv goes to /var/tmp.
    let r = venv.check_python(&fx.path("noexec/home"));
    let report = r.json();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(slugs(&report).contains(&"mpi4py-cannot-load".to_string()), "{report:#}");
    let f = finding(&report, "mpi4py-cannot-load");
    assert_eq!(f["id"], "H5D421");
    assert_eq!(evidence(f, "python.mpi4py_version"), "3.1.4");
    let why = evidence(f, "python.mpi4py_cannot_load").as_array().unwrap();
    let first = why[0].as_str().unwrap();
    assert!(
        expected.ends_with(first.split(" (").next().unwrap()),
        "the loader's words, as the ImportError says them: {first}"
    );
    assert!(first.contains("mounted noexec at"), "{first}");
    assert_eq!(
        fix_texts(f),
        ["/usr/bin/python3.11 -m venv /var/tmp/venvs/mpi4py-3.1.4 && /var/tmp/venvs/mpi4py-3.1.4/bin/pip install mpi4py==3.1.4"],
        "{f:#}"
    );
    assert_eq!(f["fixes"][0]["verified"], false);
    assert!(
        f["fixes"][0]["note"]
            .as_str()
            .unwrap()
            .starts_with("/var/tmp is writable and not mounted noexec (mounted at / with "),
        "{f:#}"
    );
}

#[test]
fn a_probe_whose_libhdf5_lies_on_a_noexec_mount_is_probe_unavailable_with_the_loaders_words() {
    assert_root("mounting a noexec tmpfs");
    let fx = Fx::new();
    let probe = common::bin("h5doctor-probe");
    let needed = std::process::Command::new("patchelf")
        .arg("--print-needed")
        .arg(&probe)
        .output()
        .expect("patchelf is installed");
    let soname = String::from_utf8_lossy(&needed.stdout)
        .lines()
        .find(|l| l.starts_with("libhdf5"))
        .expect("the probe links libhdf5")
        .to_string();
    // A copy of the probe's own libhdf5 under its soname, put first on LD_LIBRARY_PATH on a noexec mount.
    let real = std::fs::canonicalize(format!("/usr/lib/x86_64-linux-gnu/{soname}")).unwrap();
    let lib = fx.path(&format!("lib/{soname}"));
    std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
    std::fs::copy(&real, &lib).unwrap();
    let mnt = fx.path("noexec");
    std::fs::create_dir_all(&mnt).unwrap();
    let target = fx.path("target");
    std::fs::create_dir_all(&target).unwrap();
    let wrap = in_noexec_mount(&mnt, &lib);
    let ld_path = format!("LD_LIBRARY_PATH={}", mnt.display());
    let probe_var = format!("H5DOCTOR_PROBE={}", probe.display());

    // What running the probe really does.
    let ran = run(
        &wrap,
        &[OsStr::new("env"), OsStr::new(&ld_path), probe.as_os_str(), OsStr::new("version")],
    );
    let loader = format!("error while loading shared libraries: {soname}: failed to map segment from shared object");
    assert!(ran.stderr.contains(&loader), "{ran:?}");

    let r = run(
        &wrap,
        &[
            OsStr::new("env"),
            OsStr::new(&ld_path),
            OsStr::new(&probe_var),
            OsStr::new(H5DOCTOR),
            OsStr::new("check"),
            OsStr::new("--no-default-dirs"),
            OsStr::new("--only"),
            OsStr::new("hdf5"),
            OsStr::new("--json"),
            OsStr::new("--dir"),
            target.as_os_str(),
        ],
    );
    let report = r.json();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(report["facts"]["hdf5"]["status"], "unavailable");
    let f = finding(&report, "probe-unavailable");
    assert!(evidence(f, "hdf5.probe_reason").as_str().unwrap().contains(&loader), "{f:#}");
    let says = evidence(f, "hdf5.probe_loader_says").as_array().unwrap();
    assert_eq!(says.len(), 1, "{says:?}");
    let says = says[0].as_str().unwrap();
    // Word for word what the loader printed when the probe was run, then h5doctor's account.
    assert!(
        says.starts_with(&format!("{} (", ran.stderr.trim())),
        "the loader's words first: {says} / {}",
        ran.stderr
    );
    assert!(says.contains(&format!("mounted noexec at {}", mnt.display())), "{says}");
}
