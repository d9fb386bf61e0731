//! A lifeline from every rank to rank 0, outside MPI, so that a rank that dies (crashes, is killed, runs
//! out of memory) ends the test at once instead of leaving the others waiting in MPI until the timeout.
//! Open MPI 4.1 under srun does not end the surviving ranks when one dies (measured: SIGSEGV sent to
//! rank 2 mid-test, ranks 0 and 1 waited the whole 120 s).
//!
//! Rank 0 listens on a TCP port and puts its addresses in PMIx ([`crate::pmix`]); every other rank
//! connects from a thread of its own (the test never waits for it), says who it is (the job's PMIx
//! namespace first: rank 0 answers nothing else), and gets an acknowledgement. From then on each side knows the other is alive as long as the connection is open:
//! - a rank that finishes normally sends `done` to rank 0 before it exits; a connection that closes
//!   after the greeting without `done` means that rank died: rank 0 says which rank on which node,
//!   removes the test file and ends (exit 2), which closes every other lifeline;
//! - rank 0 sends `done` to every rank before it exits; a rank whose lifeline closes after the
//!   acknowledgement without `done` ends too (exit 2).
//!
//! A connection that cannot be made, or closes before the greeting or the acknowledgement, is no
//! lifeline and is ignored: the watchdog still bounds the test. Without PMIx there is none.

use crate::pmix::{Got, Session};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The PMIx key under which rank 0 puts `ADDR:PORT,ADDR:PORT,...`.
const KEY: &std::ffi::CStr = c"h5doctor.mpio.lifeline";
const DONE: &[u8] = b"done\n";
const ACK: &[u8] = b"ok\n";

/// This rank's end of the lifelines; [`Lifeline::finish`] before a normal exit.
pub struct Lifeline {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    finished: bool,
    /// Rank 0 has every rank's results: a rank that dies now no longer stops the report.
    results_in: bool,
    /// Rank 0: every accepted rank's connection; another rank: its connection to rank 0, once greeted.
    streams: Vec<TcpStream>,
}

impl Lifeline {
    /// Starts this rank's side. `host` is this rank's node (for rank 0's message about another rank).
    pub fn start(pmix: Session, rank: i32, size: i32, host: &str) -> Option<Lifeline> {
        if size < 2 {
            return None;
        }
        let state = Arc::new(Mutex::new(State::default()));
        if rank == 0 {
            let listener = TcpListener::bind(("0.0.0.0", 0)).ok()?;
            let port = listener.local_addr().ok()?.port();
            let addresses: Vec<String> = reachable_addresses().iter().map(|a| format!("{a}:{port}")).collect();
            if let Err(e) = pmix.put_text(KEY, &addresses.join(",")) {
                debug(&format!("rank 0: no lifeline: {e}"));
                return None;
            }
            let watched = Arc::clone(&state);
            let job = pmix.nspace().to_string();
            std::thread::spawn(move || watch_the_ranks(listener, &job, watched));
        } else {
            let line = Arc::clone(&state);
            let greeting = format!("{} {rank} {host}\n", pmix.nspace());
            std::thread::spawn(move || hold_on_to_rank_0(&pmix, rank, &greeting, line));
        }
        Some(Lifeline { state })
    }

    /// Rank 0 has gathered every rank's results: from now on its report comes whatever another rank does.
    pub fn results_are_in(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).results_in = true;
    }

    /// This rank ends normally: `done` on every lifeline it holds, and on any made from now on.
    pub fn finish(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.finished = true;
        for stream in &mut state.streams {
            let _ = stream.write_all(DONE);
        }
    }
}

/// Rank 0: accepts every rank's lifeline and watches them all (poll); acknowledges a greeting from this
/// job (`NSPACE RANK HOST`, the PMIx namespace first: a connection from anything else is dropped
/// unanswered); ends the process when a greeted rank's lifeline closes without `done` before rank 0 has
/// every rank's results.
fn watch_the_ranks(listener: TcpListener, job: &str, state: Arc<Mutex<State>>) {
    // Per connection: the reader, and the greeting ("RANK HOST") once read.
    let mut peers: Vec<(BufReader<TcpStream>, Option<String>)> = Vec::new();
    loop {
        let mut fds = vec![libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        fds.extend(peers.iter().map(|(reader, _)| libc::pollfd {
            fd: reader.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }));
        // SAFETY: a valid array of pollfd of the given length.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) } < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[0].revents != 0 {
            if let Ok((stream, _)) = listener.accept() {
                peers.push((BufReader::new(stream), None));
            }
        }
        let mut closed = Vec::new();
        for (i, fd) in fds.iter().enumerate().skip(1) {
            if fd.revents == 0 {
                continue;
            }
            let (reader, greeting) = &mut peers[i - 1];
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let state = state.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(who) = greeting.take().filter(|_| !state.finished && !state.results_in) {
                        rank_ended(&who);
                    }
                    closed.push(i - 1);
                }
                Ok(_) if greeting.is_none() => match line.trim_end().split_once(' ') {
                    Some((nspace, who)) if nspace == job => {
                        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                        let Ok(mut stream) = reader.get_ref().try_clone() else {
                            closed.push(i - 1);
                            continue;
                        };
                        let _ = stream.write_all(ACK);
                        if state.finished {
                            let _ = stream.write_all(DONE);
                        }
                        state.streams.push(stream);
                        *greeting = Some(who.to_string());
                    }
                    _ => closed.push(i - 1), // not a rank of this job
                },
                Ok(_) if line.as_bytes() == DONE => closed.push(i - 1),
                Ok(_) => {}
            }
        }
        for i in closed.into_iter().rev() {
            peers.swap_remove(i);
        }
    }
}

/// Another rank: connects to rank 0 (its addresses from PMIx, as soon as it has put them), greets it,
/// and ends the process when the lifeline closes after the acknowledgement without `done`.
fn hold_on_to_rank_0(pmix: &Session, rank: i32, greeting: &str, state: Arc<Mutex<State>>) {
    let mut pause = Duration::from_millis(10);
    let addresses = loop {
        match pmix.text(0, KEY) {
            Ok(Got::Value(Some(text))) => break text,
            Ok(Got::NotFound) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            Ok(Got::Value(None)) | Err(_) => return,
        }
    };
    let Some(mut stream) = addresses
        .split(',')
        .filter_map(|a| a.parse::<SocketAddr>().ok())
        .find_map(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).ok())
    else {
        debug(&format!("rank {rank}: no lifeline to rank 0 at {addresses}"));
        return;
    };
    {
        // The copy `finish` writes `done` on is made before the greeting: a connection must never close
        // after a greeting while this rank lives, or rank 0 would take it for dead.
        let Ok(kept) = stream.try_clone() else { return };
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        if state.finished || stream.write_all(greeting.as_bytes()).is_err() {
            return; // this rank is done already: no lifeline needed
        }
        state.streams.push(kept);
    }
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if !matches!(reader.read_line(&mut line), Ok(n) if n > 0 && line.as_bytes() == ACK) {
        return; // rank 0 never took it: no lifeline
    }
    line.clear();
    match reader.read_line(&mut line) {
        Ok(n) if n > 0 && line.as_bytes() == DONE => {}
        _ => {
            eprintln!("h5doctor mpio-test: rank {rank}: rank 0 ended before the test did; ending too.");
            h5doctor::cleanup::remove_all();
            // SAFETY: _exit ends the process at once (MPI may be wedged waiting for rank 0).
            unsafe { libc::_exit(2) };
        }
    }
}

/// Rank 0's end of the test when another rank died: says which, removes the test file, exits 2.
fn rank_ended(who: &str) {
    let (rank, host) = who.split_once(' ').unwrap_or((who, "?"));
    eprintln!(
        "h5doctor mpio-test: rank {rank} on {host} ended before the test did (it crashed, was killed, or \
         exited): ending every rank now instead of waiting for the timeout. The launcher's output says how \
         that rank ended."
    );
    h5doctor::cleanup::remove_all();
    // SAFETY: _exit ends the process at once (MPI may be wedged waiting for the dead rank).
    unsafe { libc::_exit(2) };
}

/// This node's IPv4 addresses that are up, for the other ranks to try in order; loopback alone when it
/// has no other.
fn reachable_addresses() -> Vec<std::net::Ipv4Addr> {
    let mut found = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a list freed with freeifaddrs; each entry is read only while it lives.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return vec![std::net::Ipv4Addr::LOCALHOST];
        }
        let mut at = list;
        while !at.is_null() {
            let addr = (*at).ifa_addr;
            if !addr.is_null() && i32::from((*addr).sa_family) == libc::AF_INET && (*at).ifa_flags & libc::IFF_UP as u32 != 0 {
                let v4 = &*(addr as *const libc::sockaddr_in);
                found.push(std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)));
            }
            at = (*at).ifa_next;
        }
        libc::freeifaddrs(list);
    }
    // Loopback only when there is nothing else: from another node it would reach another process.
    found.retain(|a| !a.is_loopback());
    found.dedup();
    if found.is_empty() {
        found.push(std::net::Ipv4Addr::LOCALHOST);
    }
    found
}

fn debug(text: &str) {
    if std::env::var_os("H5DOCTOR_MPIO_DEBUG").is_some() {
        eprintln!("{text}");
    }
}
