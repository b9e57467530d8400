#!/usr/bin/env bash
# scripts/radosgw/stop.sh FOLDER - stops the cluster scripts/radosgw/start.sh started in FOLDER and removes FOLDER.
# It signals only the PIDs listed in FOLDER/pids, and each only while its command line still names FOLDER/ceph.conf
# (a PID the system gave to another program since is left alone); never a process found by name. A folder without
# start.sh's mark is not touched.
set -uo pipefail

say() { echo "radosgw: $*" >&2; }
[ $# -eq 1 ] && [ -n "$1" ] || { say "usage: stop.sh FOLDER"; exit 2; }
[ -d "$1" ] || exit 0
DIR=$(cd "$1" && pwd)
[ -f "$DIR/.aim-radosgw" ] || { say "$DIR was not made by scripts/radosgw/start.sh; leaving it alone"; exit 1; }
CONF=$DIR/ceph.conf

# A zombie counts as stopped: it runs nothing, and only its parent (or a slow init) can reap it.
ours() {
  local pid=$1
  [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/stat" ] || return 1
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$CONF"
}

stopped_within() {
  local pid=$1 tenths=$2
  for _ in $(seq "$tenths"); do
    ours "$pid" || return 0
    sleep 0.1
  done
  ! ours "$pid"
}

# Last started first (radosgw, OSD, monitor): an OSD whose monitor is already gone waits 5 s before it exits.
pids=()
[ -f "$DIR/pids" ] && while read -r _ pid; do pids=("$pid" "${pids[@]}"); done <"$DIR/pids"
stuck=()
for pid in "${pids[@]}"; do
  ours "$pid" || continue
  kill -TERM "$pid" 2>/dev/null
  stopped_within "$pid" 50 && continue
  kill -KILL "$pid" 2>/dev/null
  stopped_within "$pid" 50 || stuck+=("$pid")
done
[ ${#stuck[@]} -eq 0 ] || { say "pids ${stuck[*]} did not stop; $DIR kept"; exit 1; }
rm -rf "$DIR"
