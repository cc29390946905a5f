#!/usr/bin/env bash
# Start a one-node Slurm cluster on this machine for bayespipe's Slurm tests (run as root).
#
#   tests/e2e/slurm/start_cluster.sh [STATE_DIR]      # default: $BAYESPIPE_SLURM_DIR or /tmp/bayespipe-slurm
#   source STATE_DIR/env                          # sets SLURM_CONF for sbatch, squeue, snakemake
#   tests/e2e/slurm/stop_cluster.sh [STATE_DIR]
#
# Installs Debian's slurm-wlm and munge when missing, writes STATE_DIR/slurm.conf from
# slurm.conf.in with this host's CPUs and memory (as `slurmd -C` reports them), starts munged
# (unless a working one is already running), slurmctld and slurmd, and waits until the node
# takes jobs. The pids of the daemons it started go to STATE_DIR/pids ("name pid" lines); only
# those are stopped by stop_cluster.sh. /etc/slurm/slurm.conf becomes a link to STATE_DIR/slurm.conf
# (the executor plugin strips SLURM_* variables, SLURM_CONF included, before its `srun` inside a
# job, so that srun reads the default path); it refuses to replace a slurm.conf it did not write.
#
# Environment: SLURM_CTLD_PORT (default 6817), SLURMD_PORT (6818), SLURM_START_TIMEOUT (90 s).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="$(realpath -m "${1:-${BAYESPIPE_SLURM_DIR:-/tmp/bayespipe-slurm}}")"
CTLD_PORT="${SLURM_CTLD_PORT:-6817}"
SLURMD_PORT="${SLURMD_PORT:-6818}"
TIMEOUT="${SLURM_START_TIMEOUT:-90}"

say() { echo "start_cluster: $*" >&2; }
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts munged, slurmctld and slurmd)"

install_packages() {
    local missing=""
    for pkg in slurm-wlm munge; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
    done
    [ -z "$missing" ] && return
    command -v apt-get >/dev/null || die "missing packages:$missing, and no apt-get to install them"
    say "installing$missing"
    # Keep the packages' init scripts from starting system daemons with the default config.
    local policy=/usr/sbin/policy-rc.d created_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
    fi
    local status=0
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends $missing >/dev/null || status=$?
    [ -n "$created_policy" ] && rm -f "$policy"
    [ "$status" = 0 ] || die "apt-get could not install$missing (exit $status)"
}

record_pid() { echo "$1 $2" >>"$STATE/pids"; }

wait_for() {  # wait_for DESCRIPTION COMMAND...: retry COMMAND once a second until TIMEOUT
    local what="$1"; shift
    for _ in $(seq "$TIMEOUT"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 1
    done
    die "$what did not come up within ${TIMEOUT}s (logs in $STATE)"
}

munge_works() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munged() {
    if munge_works; then
        say "using the munged that is already running"
        return
    fi
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge /etc/munge
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile=/etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged
    wait_for munged test -s /run/munge/munged.pid
    record_pid munged "$(cat /run/munge/munged.pid)"
    wait_for munged munge_works
}

write_config() {
    local host node_line
    host="$(hostname -s)"
    # "NodeName=<host> CPUs=.. Boards=.. SocketsPerBoard=.. CoresPerSocket=.. ThreadsPerCore=.. RealMemory=.."
    node_line="$(slurmd -C | head -n 1)"
    node_line="${node_line#NodeName=}"
    [ "${node_line%% *}" = "$host" ] || die "slurmd -C names node '${node_line%% *}', hostname -s is '$host'"
    sed -e "s|@HOST@|$host|g" -e "s|@STATE@|$STATE|g" -e "s|@CTLD_PORT@|$CTLD_PORT|g" \
        -e "s|@SLURMD_PORT@|$SLURMD_PORT|g" -e "s|@NODE_LINE@|$node_line|g" \
        "$HERE/slurm.conf.in" >"$STATE/slurm.conf"
    echo "Name=gpu File=/dev/null" >"$STATE/gres.conf"  # the pretend GPU of slurm.conf.in
    printf 'export SLURM_CONF=%q\n' "$STATE/slurm.conf" >"$STATE/env"
    link_system_config
}

SYSTEM_CONF=/etc/slurm/slurm.conf

link_system_config() {
    # Replace only nothing, a dangling link, or a link to another test cluster's config.
    if [ -e "$SYSTEM_CONF" ] && ! { [ -L "$SYSTEM_CONF" ] && grep -q '^ClusterName=bayespipe-test$' "$SYSTEM_CONF"; }; then
        die "$SYSTEM_CONF exists and is not a test cluster's; not replacing it"
    fi
    mkdir -p "$(dirname "$SYSTEM_CONF")"
    ln -sfn "$STATE/slurm.conf" "$SYSTEM_CONF"
}

node_idle() { [ "$(sinfo -h -N -o %t | sort -u)" = idle ]; }

start_slurm() {
    export SLURM_CONF="$STATE/slurm.conf"
    # -c: cold start, no jobs or node states from an earlier cluster in this folder.
    slurmctld -c -f "$SLURM_CONF"
    wait_for slurmctld test -s "$STATE/slurmctld.pid"
    record_pid slurmctld "$(cat "$STATE/slurmctld.pid")"
    wait_for slurmctld scontrol ping
    slurmd -f "$SLURM_CONF"
    wait_for slurmd test -s "$STATE/slurmd.pid"
    record_pid slurmd "$(cat "$STATE/slurmd.pid")"
    wait_for "the node" node_idle
}

main() {
    [ -e "$STATE/pids" ] && die "$STATE/pids exists: a cluster may still run there; stop it with $HERE/stop_cluster.sh $STATE"
    install_packages
    mkdir -p "$STATE/ctld" "$STATE/slurmd"
    : >"$STATE/pids"
    start_munged
    write_config
    start_slurm
    say "cluster up: $(sinfo -h -o '%P %D %c cpus %m MB %t' | tr '\n' ';')"
    say "source $STATE/env to use it; stop it with $HERE/stop_cluster.sh $STATE"
}

main
