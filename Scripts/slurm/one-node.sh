#!/usr/bin/env bash
# A throw-away one-node Slurm cluster on localhost, for the job-array test
# (Tests/loupeTests/SlurmArrayTests.swift) and for trying docs/cluster/ by hand.
#
#   Scripts/slurm/one-node.sh start DIR   # config, state and logs in DIR; prints SLURM_CONF=...
#   Scripts/slurm/one-node.sh stop DIR    # stops what `start DIR` started (by its pid files)
#
# Needs Debian's slurm-wlm and munge (Scripts/test.sh installs them) and root, as the
# daemons run as root. Everything lives in DIR: slurm.conf, a munged of its own on
# DIR/munge/socket (so a system munged, if any, is left alone), the controller's state,
# slurmd's spool, pid and log files. The controller and slurmd listen on two free ports
# above 20000 (not Slurm's 6817/6818), so two clusters can run side by side.
# Every Slurm command needs SLURM_CONF=DIR/slurm.conf (without it they look the
# controller up in DNS and fail).
#
# Choices (see ../shared/notes/slurm-one-node.md for what was tried): no cgroups (they fail
# in containers without the freezer hierarchy, and then `sbatch --wait` exits 0 with no task
# run), proctrack/linuxproc and task/none; the builtin scheduler with no batch delay and
# MinJobAge=4, so that `sbatch --wait` returns within seconds; OverSubscribe=FORCE:4 so that
# four tasks run at once on two CPUs. If start fails, what it started is stopped again.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
dir=$2

sbin() {  # slurmctld, slurmd and munged live in /usr/sbin, which a user's PATH may lack
    command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; } || {
        echo "one-node: $1 not found; install Debian's slurm-wlm and munge (apt-get install slurm-wlm munge)" >&2
        exit 3
    }
}

# Kills the process in pid file $1 (if it runs) and waits up to 10 s for it to end.
stop_pidfile() {
    local file=$1 pid
    [ -s "$file" ] || return 0
    pid=$(cat "$file")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    fi
    rm -f "$file"
    return 0
}

stop() {
    # Both Slurm daemons at once (each takes a few seconds to shut down), then munged.
    stop_pidfile "$dir/slurmd.pid" &
    stop_pidfile "$dir/slurmctld.pid" &
    wait
    stop_pidfile "$dir/munge/munged.pid"
}

# Runs "$@" (a daemon that forks into the background) with no file descriptor of ours but
# /dev/null and DIR/daemons.out: a caller reading our output to its end (a test's pipe, which
# the spawning process may also have leaked to us as another descriptor) would otherwise wait
# for the daemons to exit.
detached() {
    (
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] && eval "exec $fd>&-"
        done 2>/dev/null
        exec "$@" </dev/null >>"$dir/daemons.out" 2>&1
    )
}

# A TCP port above 20000 that nothing on localhost listens on (bash's /dev/tcp connects).
free_port() {
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && [[ " ${taken:-} " != *" $p "* ]]; then
            taken="${taken:-} $p"
            echo "$p"
            return
        fi
    done
    echo "one-node: no free port found" >&2
    exit 1
}

start() {
    local slurmctld slurmd munged host cpus mem ctld_port d_port
    slurmctld=$(sbin slurmctld); slurmd=$(sbin slurmd); munged=$(sbin munged)
    [ "$(id -u)" -eq 0 ] || { echo "one-node: the daemons run as root; run as root" >&2; exit 3; }
    [ -r /etc/munge/munge.key ] || { echo "one-node: /etc/munge/munge.key is missing (reinstall munge)" >&2; exit 3; }
    mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
    chmod 0755 "$dir"
    chown munge:munge "$dir/munge"
    chmod 0755 "$dir/munge"
    trap 'stop' ERR

    # munged refuses a socket folder that others can write or cannot enter; it runs as munge.
    detached runuser -u munge -- "$munged" --socket="$dir/munge/socket" --pid-file="$dir/munge/munged.pid" \
        --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/seed"

    host=$(hostname -s)
    cpus=$(nproc)
    # slurmd refuses a node that claims more memory than it has: a little under `slurmd -C`.
    mem=$("$slurmd" -C | sed -nE 's/.*RealMemory=([0-9]+).*/\1/p')
    mem=$(( ${mem:-1024} * 9 / 10 ))
    ctld_port=$(free_port); d_port=$(free_port)
    cat >"$dir/slurm.conf" <<EOF
ClusterName=loupe-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
MinJobAge=4
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=loupe Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
    export SLURM_CONF="$dir/slurm.conf"
    detached "$slurmctld" -c
    detached "$slurmd" -c -N "$host"
    # The node is idle within a fraction of a second; wait up to 20 s.
    local state=""
    for _ in $(seq 200); do
        state=$(sinfo -h -N -o '%t' 2>/dev/null | head -1 || true)
        [ "$state" = "idle" ] && break
        sleep 0.1
    done
    if [ "$state" != "idle" ]; then
        echo "one-node: the node is '${state:-unknown}', not idle, after 20 s; logs:" >&2
        tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" "$dir/munge/munged.log" >&2 || true
        stop
        exit 1
    fi
    trap - ERR
    echo "SLURM_CONF=$SLURM_CONF"
}

case $action in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
