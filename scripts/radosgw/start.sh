#!/usr/bin/env bash
# scripts/radosgw/start.sh FOLDER - a throwaway Ceph radosgw on 127.0.0.1 for aim's tests: one monitor, one OSD
# keeping objects in RAM (memstore) and one radosgw, every file of it under FOLDER (config, data, logs, sockets).
# Nothing goes to /etc/ceph or /var/lib/ceph, and no root is needed once the Debian packages are installed
# (`apt-get install --no-install-recommends radosgw ceph-mon ceph-osd`; .ci/run does it).
#
# On success stdout carries only `export NAME=value` lines (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
# RADOSGW_ENDPOINT, RADOSGW_BUCKET, RADOSGW_DIR), also written to FOLDER/env. Progress and errors go to stderr.
# Stop it with scripts/radosgw/stop.sh FOLDER. FOLDER must be new or empty: a test run always starts from nothing.
#
#   RADOSGW_BUCKET   bucket to create (default aim-test)
#   RADOSGW_TIMEOUT  seconds each step may take (default 60)
#   RADOSGW_ACCESS_KEY, RADOSGW_SECRET_KEY  the test user's keys (the tests give s3rver's, to use one set for both)
set -euo pipefail

# Fixed keys are fine: the server listens on loopback only and lives as long as one test run.
ACCESS_KEY=${RADOSGW_ACCESS_KEY:-AIMRADOSGWTEST}
SECRET_KEY=${RADOSGW_SECRET_KEY:-AIMRADOSGWTESTSECRET}
BUCKET=${RADOSGW_BUCKET:-aim-test}
STEP_TIMEOUT=${RADOSGW_TIMEOUT:-60}

say() { echo "radosgw: $*" >&2; }
die() { say "$*"; exit 1; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: start.sh FOLDER"
[[ "$STEP_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "RADOSGW_TIMEOUT=$STEP_TIMEOUT is not a whole number of seconds"
[[ "$ACCESS_KEY$SECRET_KEY" =~ ^[A-Za-z0-9]+$ ]] || die "RADOSGW_ACCESS_KEY and RADOSGW_SECRET_KEY: letters and digits only"
[[ "$BUCKET" =~ ^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$ ]] || die "RADOSGW_BUCKET=$BUCKET is not a valid bucket name"
for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool curl setsid timeout; do
  command -v "$tool" >/dev/null 2>&1 \
    || die "$tool is not installed; run: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd curl"
done

mkdir -p "$1" || die "cannot create $1"
DIR=$(cd "$1" && pwd)
[ -z "$(ls -A "$DIR")" ] || die "$DIR is not empty; give a new or empty folder"
# The folder goes into ceph.conf unquoted and into `export` lines.
[[ "$DIR" =~ ^[A-Za-z0-9/._-]+$ ]] || die "$DIR: use a folder path of letters, digits and / . _ - only"
CONF=$DIR/ceph.conf
# stop.sh removes only folders carrying this mark, and signals only processes whose command line names $CONF.
touch "$DIR/.aim-radosgw"
mkdir -p "$DIR"/{run,log,mon,osd/0,tmp}
: >"$DIR/pids"

started=()
on_exit() {
  local status=$?
  [ $status -eq 0 ] && return
  for pid in "${started[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  say "start failed; logs are in $DIR/log (remove the folder with scripts/radosgw/stop.sh $DIR)"
}
trap on_exit EXIT

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 20000))
    port_in_use "$port" || { echo "$port"; return; }
  done
  die "no free port on 127.0.0.1"
}
MON_PORT=$(free_port)
S3_PORT=$(free_port)

write_config() {
  cat >"$CONF" <<EOF
# scripts/radosgw/start.sh: a single-node cluster for one test run; its data lives in RAM and dies with it
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
log to stderr = false
crash dir = $DIR/tmp
mon data = $DIR/mon/\$id
osd data = $DIR/osd/\$id
# One OSD: pools of one copy, and no health warnings about it.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
# The monitor commits every 10 ms instead of every second: start-up takes ~2 s instead of ~20.
paxos propose interval = 0.01
[osd]
osd objectstore = memstore
memstore device bytes = 8589934592
osd crush update on start = false
# A radosgw that died holding a watch would stall metadata writes this long (the default is 30 s).
osd client watch timeout = 10
[client]
# radosgw asks for a secure monitor session by default, which "auth none" cannot give: it would retry forever.
ms mon client mode = crc secure
rgw frontends = beast endpoint=127.0.0.1:$S3_PORT
rgw enable usage log = false
EOF
}

ceph_cli() { timeout 15 ceph --conf "$CONF" --connect-timeout 10 "$@"; }

# NAME COMMAND...: runs a daemon in its own session with stdio in a log, so that our caller does not wait for it.
spawn() {
  local name=$1
  shift
  setsid "$@" </dev/null >>"$DIR/log/$name.out" 2>&1 &
  started+=("$!")
  echo "$name $!" >>"$DIR/pids"
}

check_daemons() {
  local name pid
  while read -r name pid; do
    [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] \
      || die "$name exited while starting: $(tail -2 "$DIR/log/$name.out" | tr '\n' ' ')"
  done <"$DIR/pids"
}

# DESCRIPTION COMMAND...: a monitor that has just started refuses commands for a moment; try until the deadline.
until_ok() {
  local what=$1 deadline=$((SECONDS + STEP_TIMEOUT)) out
  shift
  until out=$("$@" 2>&1); do
    check_daemons
    [ $SECONDS -lt $deadline ] || die "$what failed for ${STEP_TIMEOUT}s: $(echo "$out" | tail -2 | tr '\n' ' ')"
    sleep 0.2
  done
  printf '%s' "$out"
}

FSID=$(cat /proc/sys/kernel/random/uuid)
write_config
say "starting in $DIR"
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/tmp/monmap" >/dev/null
timeout "$STEP_TIMEOUT" ceph-mon --conf "$CONF" --mkfs -i a --monmap "$DIR/tmp/monmap" >"$DIR/log/mon-mkfs.out" 2>&1 \
  || die "ceph-mon --mkfs failed: $(tail -2 "$DIR/log/mon-mkfs.out" | tr '\n' ' ')"
spawn mon ceph-mon --conf "$CONF" -f -i a
until_ok "ceph status" ceph_cli status >/dev/null

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
[ "$(until_ok "ceph osd new" ceph_cli osd new "$OSD_UUID")" = 0 ] || die "the new OSD did not get id 0"
timeout "$STEP_TIMEOUT" ceph-osd --conf "$CONF" --mkfs -i 0 --osd-uuid "$OSD_UUID" >"$DIR/log/osd-mkfs.out" 2>&1 \
  || die "ceph-osd --mkfs failed: $(tail -2 "$DIR/log/osd-mkfs.out" | tr '\n' ' ')"
until_ok "ceph osd crush add" ceph_cli osd crush add osd.0 1.0 root=default >/dev/null
spawn osd ceph-osd --conf "$CONF" -f -i 0

# The user before radosgw starts: radosgw-admin would otherwise wait on notifications to a radosgw that may die.
until_ok "radosgw-admin user create" timeout 30 radosgw-admin --conf "$CONF" user create --uid aim-test \
  --display-name "aim tests" --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" >/dev/null
spawn radosgw radosgw --conf "$CONF" -f -n client.rgw
deadline=$((SECONDS + STEP_TIMEOUT))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/")" = 200 ]; do
  # Another program may take the port between our check and radosgw's bind: radosgw then exits.
  grep -q 'failed to bind' "$DIR/log/radosgw.out" 2>/dev/null && die "port $S3_PORT was taken meanwhile; run again"
  check_daemons
  [ $SECONDS -lt $deadline ] || die "radosgw did not answer on 127.0.0.1:$S3_PORT within ${STEP_TIMEOUT}s"
  sleep 0.1
done

status=$(curl -s -o "$DIR/tmp/bucket.out" -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
  --user "$ACCESS_KEY:$SECRET_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "http://127.0.0.1:$S3_PORT/$BUCKET" || true)
[ "$status" = 200 ] || die "creating bucket $BUCKET answered HTTP $status: $(head -c 300 "$DIR/tmp/bucket.out")"

cat >"$DIR/env" <<EOF
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=us-east-1
export RADOSGW_ENDPOINT=http://127.0.0.1:$S3_PORT
export RADOSGW_BUCKET=$BUCKET
export RADOSGW_DIR=$DIR
EOF
trap - EXIT
say "ready in ${SECONDS}s on http://127.0.0.1:$S3_PORT, bucket $BUCKET"
cat "$DIR/env"
