#!/usr/bin/env bash
# A private Slurm for tests, without systemd: munged, slurmctld and slurmd with their config, state,
# sockets and logs under PREFIX, on ports of their own (several can run side by side).
#
#   testsupport/slurm.sh up PREFIX        one node (this host's name); prints
#                                         `export SLURM_CONF=PREFIX/etc/slurm.conf`; on failure prints the
#                                         daemons' logs and exits 1
#   testsupport/slurm.sh up PREFIX N      N emulated nodes nid001..nidN (N <= 9): one `slurmd -N nidNNN` each,
#                                         started under `unshare --uts --mount --propagation private` with
#                                         its own hostname and a private tmpfs on /tmp, so node-local /tmp
#                                         is real and a directory outside /tmp is shared by all the nodes.
#                                         PREFIX must not be under /tmp (the nodes could not see it).
#
# Every slurmd (one node or several) gets a private tmpfs on /dev/shm, as every real node has its own.
# Open MPI names its shared-memory segments /dev/shm/vader_segment.HOST.0.JOBID.RANK, and under srun its
# job id is a hash of the PMIx namespace slurm.pmix.JOB.STEP: every fresh test Slurm numbers its jobs
# from 1 with the same node names, so on a shared /dev/shm two test Slurms (two engineers', or CI next to
# a developer) running job K at once used the same segment files. One job's finalize removed the other's,
# which failed with "A system call failed during shared memory initialization ... open(2) ... errno 2"
# (or a segfault on a truncated segment).
# A one-node Slurm's TmpFS is PREFIX/tmp: Slurm's PMIx plugin makes a directory spmix_appdir_UID_JOB.STEP
# there for each step, and a slurmstepd left hung (a failing test) keeps it; on the shared /tmp a later
# step of the same number of another test Slurm (each counts its jobs from 1) then failed to launch.
# Emulated nodes keep TmpFS=/tmp, their private tmpfs (PREFIX is shared by all of a job's nodes, and
# every node of a step makes the same directory name).
#   testsupport/slurm.sh down PREFIX      stop every daemon by the PIDs in its pidfile
#
# SLURM_SH_EXTRA_CONF: lines added to slurm.conf (a TaskProlog=..., say).
# SLURM_SH_NODE_SETUP: shell code run inside each emulated node's namespaces before its slurmd starts,
#   with the node's name in $1 (a read-only bind mount on one node, say).
#
# Needs root, unshare (util-linux) and the Debian packages slurmctld slurmd slurm-client munge
# slurm-wlm-basic-plugins.
set -euo pipefail
cmd="${1:?usage: slurm.sh up|down PREFIX}"
prefix="${2:?usage: slurm.sh up|down PREFIX}"

logs() {
  for f in "$prefix"/log/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 30 "$f"; }; done >&2
}

# The pidfiles of every daemon of PREFIX: slurmd (one node) or slurmd-nidNNN (several), slurmctld, munged.
pidfiles() {
  local f
  for f in "$prefix"/run/slurmd*.pid "$prefix/run/slurmctld.pid" "$prefix/run/munged.pid"; do
    [ -f "$f" ] && echo "$f"
  done
  return 0
}

down() {
  local f pid
  for f in $(pidfiles); do
    pid="$(cat "$f" 2>/dev/null || true)"
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  # PID 1 here reaps late: a zombie counts as stopped.
  for _ in $(seq 1 50); do
    local alive=0
    for f in $(pidfiles); do
      pid="$(cat "$f" 2>/dev/null || true)"
      [ -n "$pid" ] && [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  for f in $(pidfiles); do
    pid="$(cat "$f" 2>/dev/null || true)"
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
}

up() {
  local nodes="${1:-0}"
  for p in munged slurmctld slurmd sinfo srun unshare; do
    command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { echo "slurm.sh: $p is not installed (scripts/dev.sh installs it)" >&2; exit 1; }
  done
  case "$nodes" in [0-9]) ;; *) echo "slurm.sh: N must be 1..9, not '$nodes'" >&2; exit 2 ;; esac
  mkdir -p "$prefix"/{etc,state,spool,log,run,munge,tmp}
  chmod 0755 "$prefix"   # munged (user munge) must reach its socket directory
  local host sock base names=() node_lines
  host="$(hostname -s)"
  sock="$prefix/munge/munge.socket.2"
  # Ports of our own: another engineer's test Slurm may be up on this machine. One node: 20000-29999;
  # several: 30000-59999 (slurmctld on base, the slurmd of nidNNN on base+NNN).
  if [ "$nodes" = 0 ]; then
    base=$(( 20000 + ($$ % 5000) * 2 ))
    names=("$host")
    node_lines="SlurmdPort=$((base + 1))
SlurmdPidFile=$prefix/run/slurmd.pid
SlurmdLogFile=$prefix/log/slurmd.log
SlurmdSpoolDir=$prefix/spool
TmpFS=$prefix/tmp
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES"
  else
    case "$prefix" in /tmp/*|/tmp) echo "slurm.sh: PREFIX $prefix is under /tmp, which every node replaces by its own" >&2; exit 2 ;; esac
    base=$(( 30000 + ($$ % 3000) * 10 ))
    local i
    for i in $(seq 1 "$nodes"); do names+=("$(printf 'nid%03d' "$i")"); done
    node_lines="SlurmdPidFile=$prefix/run/slurmd-%n.pid
SlurmdLogFile=$prefix/log/slurmd-%n.log
SlurmdSpoolDir=$prefix/spool/%n"
    for i in $(seq 1 "$nodes"); do
      node_lines="$node_lines
NodeName=${names[$((i - 1))]} NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((base + i)) CPUs=4 RealMemory=1000 State=UNKNOWN"
    done
    node_lines="$node_lines
PartitionName=debug Nodes=$(IFS=,; echo "${names[*]}") Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES"
  fi
  head -c 1024 /dev/urandom > "$prefix/munge/munge.key"
  chown -R munge:munge "$prefix/munge"
  chmod 0755 "$prefix/munge"
  chmod 0600 "$prefix/munge/munge.key"
  # munged writes its pidfile into a directory it owns.
  runuser -u munge -- /usr/sbin/munged --socket="$sock" --key-file="$prefix/munge/munge.key" \
    --pid-file="$prefix/munge/munged.pid" --log-file="$prefix/munge/munged.log" --seed-file="$prefix/munge/munged.seed" \
    || { cat "$prefix/munge/munged.log" >&2 2>/dev/null; exit 1; }
  for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.02; done
  cp "$prefix/munge/munged.pid" "$prefix/run/munged.pid"
  cat > "$prefix/etc/slurm.conf" <<EOF
ClusterName=h5dtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$base
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$prefix/state
SlurmctldPidFile=$prefix/run/slurmctld.pid
SlurmctldLogFile=$prefix/log/slurmctld.log
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmdParameters=config_overrides
$node_lines
${SLURM_SH_EXTRA_CONF:-}
EOF
  export SLURM_CONF="$prefix/etc/slurm.conf"
  slurmctld || { logs; down; exit 1; }
  if [ "$nodes" = 0 ]; then
    # A /dev/shm of its own (see the top of this file); /tmp stays the host's, where the tests' directories are.
    unshare --mount --propagation private sh -c \
      'mount -t tmpfs -o mode=1777,size=512m "shm-$1" /dev/shm && exec slurmd' sh "h5dtest-$$" \
      || { logs; down; exit 1; }
  else
    local n
    for n in "${names[@]}"; do
      mkdir -p "$prefix/spool/$n"
      # Its own hostname, a private /tmp and a private /dev/shm; slurmd daemonizes inside and keeps the
      # namespaces alive.
      unshare --uts --mount --propagation private sh -c \
        'hostname "$1" && mount -t tmpfs -o mode=1777,size=512m "tmpfs-$1" /tmp && mount -t tmpfs -o mode=1777,size=512m "shm-$1" /dev/shm && eval "$2" && exec slurmd -N "$1"' \
        sh "$n" "${SLURM_SH_NODE_SETUP:-true}" \
        || { echo "slurm.sh: slurmd -N $n did not start" >&2; logs; down; exit 1; }
    done
  fi
  local state="" want
  want="$(for n in "${names[@]}"; do echo idle; done)"
  for _ in $(seq 1 150); do
    state="$(sinfo -h -N -o %T 2>/dev/null || true)"
    [ "$state" = "$want" ] && break
    sleep 0.1
  done
  if [ "$state" != "$want" ]; then
    echo "slurm.sh: nodes ${names[*]} are '$(echo $state)' after 15 s, not all idle" >&2
    logs; down; exit 1
  fi
  echo "export SLURM_CONF=$SLURM_CONF"
}

case "$cmd" in
  up) up "${3:-0}" ;;
  down) down ;;
  *) echo "usage: slurm.sh up PREFIX [N] | down PREFIX" >&2; exit 2 ;;
esac
