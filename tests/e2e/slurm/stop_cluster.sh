#!/usr/bin/env bash
# Stop the test cluster that start_cluster.sh started in STATE_DIR: cancel its jobs, then stop
# the daemons listed in STATE_DIR/pids (and only those), by pid.
#
#   tests/e2e/slurm/stop_cluster.sh [STATE_DIR]       # default: $BAYESPIPE_SLURM_DIR or /tmp/bayespipe-slurm
set -uo pipefail

STATE="$(realpath -m "${1:-${BAYESPIPE_SLURM_DIR:-/tmp/bayespipe-slurm}}")"
say() { echo "stop_cluster: $*" >&2; }

if [ ! -s "$STATE/pids" ]; then
    say "nothing to stop: no $STATE/pids"
    rm -f "$STATE/pids"
# The link start_cluster.sh made, if it still points here.
if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$STATE/slurm.conf" ]; then
    rm -f /etc/slurm/slurm.conf
fi
    exit 0
fi

if [ -f "$STATE/slurm.conf" ]; then
    SLURM_CONF="$STATE/slurm.conf" timeout 20 scancel --full --quiet --state=PENDING,RUNNING,SUSPENDED 2>/dev/null
    SLURM_CONF="$STATE/slurm.conf" timeout 20 scancel --quiet -u root 2>/dev/null
fi

# Stop in reverse start order: slurmd, slurmctld, then munged.
tac "$STATE/pids" | while read -r name pid; do
    [ -n "$pid" ] || continue
    if ! kill -0 "$pid" 2>/dev/null; then
        say "$name ($pid) already gone"
        continue
    fi
    kill -TERM "$pid"
    for _ in $(seq 20); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name ($pid) ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid"
    else
        say "stopped $name ($pid)"
    fi
done
rm -f "$STATE/pids"
# The link start_cluster.sh made, if it still points here.
if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$STATE/slurm.conf" ]; then
    rm -f /etc/slurm/slurm.conf
fi
