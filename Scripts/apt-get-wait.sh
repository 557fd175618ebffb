# Sourced by setup.sh and test.sh: `apt_get ARGS...` runs `apt-get ARGS...` (as root, through
# sudo when needed) and waits for another apt-get or dpkg to finish instead of failing at once,
# as on a fresh machine where unattended upgrades hold the package locks for minutes.
# The wait is bounded: APT_LOCK_TIMEOUT seconds (default 600), then the lock error stands.
#
# apt-get waits for the dpkg lock itself when given -o DPkg::Lock::Timeout, but (apt 2.6,
# Debian 12) not for /var/lib/apt/lists/lock (`apt-get update`) nor for
# /var/cache/apt/archives/lock: for those, the command is retried every 5 seconds while it
# fails with "Could not get lock".
apt_get() {
    local timeout=${APT_LOCK_TIMEOUT:-600}
    local start=$SECONDS sudo="" err status left said=-1000
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    err=$(mktemp)
    while true; do
        left=$((timeout - (SECONDS - start)))
        [ "$left" -lt 0 ] && left=0
        set +e
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$left" "$@" 2>"$err"
        status=$?
        set -e
        if [ "$status" -ne 0 ] && grep -q "Could not get lock" "$err" && [ $((SECONDS - start)) -lt "$timeout" ]; then
            if [ $((SECONDS - said)) -ge 60 ]; then
                echo "apt-get $1: waiting up to ${timeout}s for another package manager: $(grep -m1 'Could not get lock' "$err" | sed 's/^E: //')" >&2
                said=$SECONDS
            fi
            sleep 5
            continue
        fi
        if [ "$status" -ne 0 ] && grep -q "Could not get lock" "$err"; then
            echo "apt-get $1: gave up after waiting $((SECONDS - start))s for the package lock (APT_LOCK_TIMEOUT=${timeout})" >&2
        fi
        cat "$err" >&2
        rm -f "$err"
        return "$status"
    done
}
