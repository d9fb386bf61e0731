//! Bad ELF input: truncated, garbage and randomly mutated files give an error for that file, never a
//! panic (not even one caught inside h5doctor) and never a hang. Deterministic mutations of real
//! libraries, bounded in count and time so the test stays fast in CI.

use h5doctor::elf::ldcache::LdCache;
use h5doctor::elf::symbols::SymbolInfo;
use h5doctor::elf::ElfObject;
use std::time::{Duration, Instant};

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Mutates a copy: random bytes, extreme values in the header/program headers/dynamic area, and
/// sometimes a truncation.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        // Most interesting bytes are near the start (headers) or in the dynamic section area.
        let at = if rng.below(2) == 0 {
            rng.below(b.len().min(4096))
        } else {
            rng.below(b.len())
        };
        let end = (at + 8).min(b.len());
        match rng.below(4) {
            0 => b[at] = rng.next() as u8,
            1 => b[at..end].fill(0xff),
            2 => b[at..end].fill(0),
            _ => {
                let v = (rng.next() as u32).to_le_bytes();
                for (i, x) in v.iter().enumerate() {
                    if let Some(slot) = b.get_mut(at + i) {
                        *slot = *x;
                    }
                }
            }
        }
    }
    if rng.below(4) == 0 {
        b.truncate(rng.below(b.len()));
    }
    b
}

fn no_caught_panic(r: &Result<impl Sized, String>) {
    if let Err(e) = r {
        assert!(!e.contains("parser failed"), "a parser panicked (caught): {e}");
    }
}

#[test]
fn mutated_and_truncated_elf_files_are_errors_never_panics() {
    let seeds: Vec<Vec<u8>> = ["/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libm.so.6"]
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    // A fixed number of cases, not a time budget: the same 400 mutations run on a loaded machine and an
    // idle one (tests/fuzz.rs keeps fuzzing the parsers with proptest).
    for run in 0..400 {
        let seed = &seeds[run % seeds.len()];
        let bytes = mutate(&mut rng, seed);
        no_caught_panic(&ElfObject::parse(&bytes));
        no_caught_panic(&SymbolInfo::parse(&bytes));
        no_caught_panic(&SymbolInfo::parse_versions(&bytes));
    }
    // Every truncation of a real header region.
    for cut in 0..512.min(seeds[0].len()) {
        no_caught_panic(&ElfObject::parse(&seeds[0][..cut]));
        no_caught_panic(&SymbolInfo::parse(&seeds[0][..cut]));
    }
    for garbage in [&b""[..], b"\x7fELF", b"\x7fELF\x02\x01\x01", &[0xffu8; 4096][..]] {
        assert!(ElfObject::parse(garbage).is_err());
    }
}

#[test]
fn a_mutated_ld_so_cache_is_an_error_or_a_cache_never_a_panic() {
    let seed = std::fs::read("/etc/ld.so.cache").unwrap();
    let mut rng = Rng(42);
    for _ in 0..500 {
        let bytes = mutate(&mut rng, &seed);
        let name = ["libc.so.6", "libz.so.1", "libm.so.6"][rng.below(3)];
        if let Ok(cache) = LdCache::parse(&bytes) {
            let _ = cache.lookup(name, 0x0303, &|| &[]);
            let _ = cache.iter().count();
        }
    }
}

#[test]
fn h5doctor_ldd_on_broken_files_reports_each_and_ends() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::fs::read("/lib/x86_64-linux-gnu/libz.so.1").unwrap();
    let mut rng = Rng(7);
    let mut files = Vec::new();
    for i in 0..40 {
        let p = dir.path().join(format!("broken{i}.so"));
        std::fs::write(&p, mutate(&mut rng, &seed)).unwrap();
        files.push(p);
    }
    std::fs::write(dir.path().join("empty.so"), b"").unwrap();
    files.push(dir.path().join("empty.so"));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_h5doctor"))
        .arg("ldd")
        .arg("--flat")
        .args(&files)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("h5doctor ldd hung on broken input");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(status.code(), Some(0 | 1)), "exit {status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for f in &files {
        assert!(stdout.contains(&format!("{}:\n", f.display())), "no answer for {}", f.display());
    }
    assert!(stdout.contains("empty.so: not an ELF file"), "{stdout}");
}
