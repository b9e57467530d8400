#!/usr/bin/env bash
# Installs the peer tools the benchmark compares aim against (restic, rclone, b3sum, borg 1.2, casync), GNU time,
# and the Ceph daemons scripts/radosgw/start.sh runs, from Debian's packages, only when missing. Never fails the
# benchmark: prints what is still missing so those rows say n/a.
set -u
# command:package pairs; /usr/bin/time is GNU time's path (the shell keyword `time` would hide it from command -v).
tools=(restic:restic rclone:rclone b3sum:b3sum borg:borgbackup casync:casync /usr/bin/time:time
  radosgw:radosgw ceph-mon:ceph-mon ceph-osd:ceph-osd fincore:util-linux-extra)
missing_packages() {
  local pair
  for pair in "${tools[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || echo "${pair#*:}"
  done
}
need=($(missing_packages))
if [ ${#need[@]} -eq 0 ]; then
  echo "bench-setup: restic, rclone, b3sum, borg, casync, time, radosgw and fincore are present"
  exit 0
fi
echo "bench-setup: installing ${need[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "bench-setup: not root and no sudo; missing: ${need[*]}" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if $SUDO apt-get update -qq >/dev/null 2>&1; then
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 || echo "bench-setup: apt-get install failed" >&2
else
  echo "bench-setup: apt-get update failed" >&2
fi
missing=($(missing_packages))
if [ ${#missing[@]} -gt 0 ]; then echo "bench-setup: still missing: ${missing[*]} (their rows will say n/a)" >&2; fi
exit 0
