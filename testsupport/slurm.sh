#!/usr/bin/env bash
# A private one-node Slurm for tests, without systemd: munged, slurmctld and slurmd with their config,
# state, sockets and logs under PREFIX, on ports of their own (several can run side by side).
#
#   testsupport/slurm.sh up PREFIX     start; prints `export SLURM_CONF=PREFIX/etc/slurm.conf`; on failure
#                                      prints the daemons' logs and exits 1
#   testsupport/slurm.sh down PREFIX   stop the three daemons by the PIDs in their pidfiles
#
# Needs root and the Debian packages slurmctld slurmd slurm-client munge slurm-wlm-basic-plugins.
set -euo pipefail
cmd="${1:?usage: slurm.sh up|down PREFIX}"
prefix="${2:?usage: slurm.sh up|down PREFIX}"

logs() {
  for f in "$prefix"/log/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 30 "$f"; }; done >&2
}

down() {
  local f pid
  for f in slurmd slurmctld munged; do
    [ -f "$prefix/run/$f.pid" ] || continue
    pid="$(cat "$prefix/run/$f.pid" 2>/dev/null || true)"
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  # PID 1 here reaps late: a zombie counts as stopped.
  for _ in $(seq 1 50); do
    local alive=0
    for f in slurmd slurmctld munged; do
      pid="$(cat "$prefix/run/$f.pid" 2>/dev/null || true)"
      [ -n "$pid" ] && [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  for f in slurmd slurmctld munged; do
    pid="$(cat "$prefix/run/$f.pid" 2>/dev/null || true)"
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
}

up() {
  for p in munged slurmctld slurmd sinfo srun; do
    command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { echo "slurm.sh: $p is not installed (scripts/dev.sh installs it)" >&2; exit 1; }
  done
  mkdir -p "$prefix"/{etc,state,spool,log,run,munge}
  chmod 0755 "$prefix"   # munged (user munge) must reach its socket directory
  local host sock base
  host="$(hostname -s)"
  sock="$prefix/munge/munge.socket.2"
  # Ports of our own: another engineer's test Slurm may be up on this machine.
  base=$(( 20000 + ($$ % 5000) * 2 ))
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
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$prefix/state
SlurmdSpoolDir=$prefix/spool
SlurmctldPidFile=$prefix/run/slurmctld.pid
SlurmdPidFile=$prefix/run/slurmd.pid
SlurmctldLogFile=$prefix/log/slurmctld.log
SlurmdLogFile=$prefix/log/slurmd.log
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
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
  export SLURM_CONF="$prefix/etc/slurm.conf"
  slurmctld || { logs; down; exit 1; }
  slurmd || { logs; down; exit 1; }
  local state=""
  for _ in $(seq 1 150); do
    state="$(sinfo -h -n "$host" -o %T 2>/dev/null || true)"
    [ "$state" = idle ] && break
    sleep 0.1
  done
  if [ "$state" != idle ]; then
    echo "slurm.sh: node $host is '${state:-unknown}' after 15 s, not idle" >&2
    logs; down; exit 1
  fi
  echo "export SLURM_CONF=$SLURM_CONF"
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: slurm.sh up|down PREFIX" >&2; exit 2 ;;
esac
