#!/usr/bin/env bash
# Installs the peer tools the benchmark compares aim against (restic, rclone, b3sum) and GNU time, from Debian's
# packages, only when missing. Never fails the benchmark: prints what is still missing so those rows say n/a.
set -u
need=()
command -v restic >/dev/null 2>&1 || need+=(restic)
command -v rclone >/dev/null 2>&1 || need+=(rclone)
command -v b3sum >/dev/null 2>&1 || need+=(b3sum)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -eq 0 ]; then
  echo "bench-setup: restic, rclone, b3sum and time are present"
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
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || echo "bench-setup: apt-get install failed" >&2
else
  echo "bench-setup: apt-get update failed" >&2
fi
missing=()
command -v restic >/dev/null 2>&1 || missing+=(restic)
command -v rclone >/dev/null 2>&1 || missing+=(rclone)
command -v b3sum >/dev/null 2>&1 || missing+=(b3sum)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then echo "bench-setup: still missing: ${missing[*]} (their rows will say n/a)" >&2; fi
exit 0
