//! Slurm hostlists: `nid[001-004,007]` for nid001, nid002, nid003, nid004, nid007, compressed exactly as
//! `scontrol show hostlist` compresses the same names in the same order (Slurm's hostlist.c: a name is a
//! prefix and the digits it ends with; a name extends the range before it when the prefix is the same, its
//! number is the next one and the zero padding is compatible; neighbouring ranges with one prefix share
//! one pair of brackets). [`compress`] sorts naturally and drops duplicates first, which is what a report
//! wants; [`compress_in_order`] keeps the order, as scontrol does.

use std::cmp::Ordering;

/// One name split as Slurm splits it: `nid007` is prefix `nid`, number 7, width 3.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Host<'a> {
    prefix: &'a str,
    /// None: the name does not end in a digit (or the digits do not fit in a u64).
    number: Option<(u64, usize)>,
}

fn split(name: &str) -> Host<'_> {
    let digits = name.bytes().rev().take_while(u8::is_ascii_digit).count();
    let (prefix, suffix) = name.split_at(name.len() - digits);
    match suffix.parse::<u64>() {
        Ok(n) if digits > 0 && digits <= 18 => Host {
            prefix,
            number: Some((n, digits)),
        },
        _ => Host {
            prefix: name,
            number: None,
        },
    }
}

/// A run of names: prefix, lo..=hi, zero-padded to `width` (or one name without a number).
#[derive(Debug, Clone)]
struct Range<'a> {
    prefix: &'a str,
    single: bool,
    lo: u64,
    hi: u64,
    width: usize,
}

/// How many zeros `num` printed in `width` digits has in front.
fn zero_padded(num: u64, width: usize) -> usize {
    let digits = num.to_string().len();
    width.saturating_sub(digits)
}

/// Slurm's `_width_equiv`: whether numbers `n` (width `wn`) and `m` (width `wm`) can share one width, and
/// which. Returns the width of the combined range.
fn width_equiv(n: u64, wn: usize, m: u64, wm: usize) -> Option<usize> {
    if wn == wm {
        return Some(wn);
    }
    let (npad, nmpad) = (zero_padded(n, wn), zero_padded(n, wm));
    let (mpad, mnpad) = (zero_padded(m, wm), zero_padded(m, wn));
    if npad != nmpad && mpad != mnpad {
        None
    } else if npad != nmpad {
        Some(wn)
    } else {
        Some(wm)
    }
}

fn ranges<'a, S: AsRef<str>>(names: &'a [S]) -> Vec<Range<'a>> {
    let mut out: Vec<Range<'a>> = Vec::new();
    for name in names {
        let host = split(name.as_ref());
        let Some((n, width)) = host.number else {
            out.push(Range {
                prefix: host.prefix,
                single: true,
                lo: 0,
                hi: 0,
                width: 0,
            });
            continue;
        };
        if let Some(last) = out.last_mut() {
            if !last.single && last.prefix == host.prefix && last.hi.checked_add(1) == Some(n) {
                if let Some(w) = width_equiv(last.lo, last.width, n, width) {
                    last.hi = n;
                    last.width = w;
                    continue;
                }
            }
        }
        out.push(Range {
            prefix: host.prefix,
            single: false,
            lo: n,
            hi: n,
            width,
        });
    }
    out
}

/// Neighbouring ranges that share one pair of brackets: same prefix, both with numbers or both without.
fn within(a: &Range, b: &Range) -> bool {
    a.prefix == b.prefix && a.single == b.single
}

/// The names as `scontrol show hostlist` prints them, in their order (no sorting, no de-duplication).
pub fn compress_in_order<S: AsRef<str>>(names: &[S]) -> String {
    let ranges = ranges(names);
    let mut out = String::new();
    let mut i = 0;
    while i < ranges.len() {
        if i > 0 {
            out.push(',');
        }
        let first = &ranges[i];
        let bracket = first.hi > first.lo || ranges.get(i + 1).is_some_and(|next| within(first, next));
        out.push_str(first.prefix);
        if bracket {
            out.push('[');
        }
        loop {
            let r = &ranges[i];
            if !r.single {
                out.push_str(&format!("{:0w$}", r.lo, w = r.width));
                if r.hi > r.lo {
                    out.push_str(&format!("-{:0w$}", r.hi, w = r.width));
                }
            }
            i += 1;
            if bracket && i < ranges.len() && within(&ranges[i], &ranges[i - 1]) {
                out.push(',');
            } else {
                break;
            }
        }
        if bracket {
            out.push(']');
        }
    }
    out
}

/// Natural order of host names: by prefix, then by number (nid2 before nid10), then by spelling.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ha, hb) = (split(a), split(b));
    ha.prefix
        .cmp(hb.prefix)
        .then_with(|| ha.number.map(|n| n.0).cmp(&hb.number.map(|n| n.0)))
        .then_with(|| a.cmp(b))
}

/// The names sorted naturally, without duplicates, compressed: `nid[001-004,007]`.
pub fn compress<S: AsRef<str>>(names: &[S]) -> String {
    let mut sorted: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    sorted.sort_by(|a, b| natural_cmp(a, b));
    sorted.dedup();
    compress_in_order(&sorted)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each case as `scontrol show hostlist` (Slurm 22.05) printed it on this machine.
    #[test]
    fn compresses_like_scontrol() {
        let cases = [
            ("nid001,nid002,nid003,nid007", "nid[001-003,007]"),
            ("nid007,nid001,nid002,nid002", "nid[007,001-002,002]"),
            ("nid1,nid2,nid10,nid03", "nid[1-2,10,03]"),
            ("a1,b2,a2", "a1,b2,a2"),
            ("vm", "vm"),
            ("node1-ib,node2-ib", "node1-ib,node2-ib"),
            ("nid001,nid1", "nid[001,1]"),
            ("n9,n10,n11", "n[9-11]"),
            ("n09,n10", "n[09-10]"),
            ("x,y,x1", "x,y,x1"),
            ("nid0001,nid002", "nid[0001,002]"),
            ("c1-0,c1-1,c2-0", "c1-[0-1],c2-0"),
            ("n008,n009,n010", "n[008-010]"),
        ];
        for (input, want) in cases {
            let names: Vec<&str> = input.split(',').collect();
            assert_eq!(compress_in_order(&names), want, "{input}");
        }
    }

    #[test]
    fn compress_sorts_naturally_and_drops_duplicates() {
        assert_eq!(
            compress(&["nid007", "nid002", "nid001", "nid002", "nid003", "nid004"]),
            "nid[001-004,007]"
        );
        assert_eq!(compress(&["n10", "n9", "login1"]), "login1,n[9-10]");
        assert_eq!(compress::<&str>(&[]), "");
    }
}
