#!/bin/sh
# A Slurm TaskProlog that checks, before a job's first task on each node starts, whether HDF5 can write
# where the job will write, and tells the job (never the node's state) what is wrong:
#
#   slurm.conf:  TaskProlog=/etc/slurm/h5doctor-taskprolog.sh
#
# It never drains a node and never fails a task: it always exits 0, so a broken file system costs the
# job a warning in its output, not the node. A site that wants to drain does so itself, from the reports
# this script leaves in $H5DOCTOR_PROLOG_REPORTS (one JSON report per job and node), after a human look.
#
# Directories checked: the job's submit directory and $SCRATCH (as the job sees them), plus
# $H5DOCTOR_PROLOG_DIRS (colon-separated) when the site or the user sets it. Lines this script prints
# starting with "print " reach the task's standard output (Slurm's TaskProlog protocol).
#
# Settings (environment of slurmd, or edit here): H5DOCTOR (the h5doctor binary), H5DOCTOR_PROLOG_TIMEOUT
# (seconds for the whole check, default 60), H5DOCTOR_PROLOG_REPORTS (a directory for the JSON reports;
# unset: none kept).

h5doctor="${H5DOCTOR:-h5doctor}"
# One check per node and job step: the first task of the node does it.
[ "${SLURM_LOCALID:-0}" = 0 ] || exit 0
command -v "$h5doctor" >/dev/null 2>&1 || exit 0

set --
for d in "${SLURM_SUBMIT_DIR:-}" "${SCRATCH:-}"; do
  [ -n "$d" ] && [ -d "$d" ] && set -- "$@" --dir "$d"
done
old_ifs=$IFS; IFS=:
for d in ${H5DOCTOR_PROLOG_DIRS:-}; do
  [ -n "$d" ] && set -- "$@" --dir "$d"
done
IFS=$old_ifs
[ "$#" -gt 0 ] || exit 0

node="$(hostname -s 2>/dev/null || hostname)"
report="$(mktemp "${TMPDIR:-/tmp}/h5doctor-prolog.XXXXXX")" || exit 0
timeout -k 5 "${H5DOCTOR_PROLOG_TIMEOUT:-60}" "$h5doctor" check --no-default-dirs --no-default-pythons \
  --only locking --only hdf5 "$@" --format human >"$report" 2>&1
rc=$?
if [ "$rc" = 1 ]; then
  # Only the error findings, one line each: the slug and what to do about it follow in the title.
  grep '^✗ error ' "$report" | sed "s/^✗ error /h5doctor on $node: /" | sed 's/^/print /'
  echo "print h5doctor on $node: run \`h5doctor check $*\` for the fixes"
elif [ "$rc" -ge 2 ]; then
  echo "print h5doctor on $node: the check did not finish (exit $rc); the job runs anyway"
fi
if [ -n "${H5DOCTOR_PROLOG_REPORTS:-}" ] && [ -d "$H5DOCTOR_PROLOG_REPORTS" ]; then
  timeout -k 5 "${H5DOCTOR_PROLOG_TIMEOUT:-60}" "$h5doctor" check --no-default-dirs --no-default-pythons \
    --only locking --only hdf5 "$@" --json >"$H5DOCTOR_PROLOG_REPORTS/${SLURM_JOB_ID:-job}-$node.json" 2>/dev/null
fi
rm -f "$report"
exit 0
