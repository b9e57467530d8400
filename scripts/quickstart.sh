#!/usr/bin/env bash
# One command from a fresh clone: install, build, then the main job end to end on the embedded default —
# a local repository in a temporary folder, a generated model pushed, a changed version pushed, listed, pulled,
# verified, and (when the serving engine is built) the tiny GGUF deployed on the embedded llama.cpp engine.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

[ -d node_modules ] || npm ci --no-audit --no-fund
[ -f dist/bundle/aim.js ] && [ "${AIM_QUICKSTART_REBUILD:-1}" = 0 ] || npm run build --silent

work=${AIM_QUICKSTART_DIR:-$(mktemp -d -t aim-quickstart-XXXXXX)}
mkdir -p "$work"
export AIM_HOME="$work/aim-home"
export AIM_CONFIG="$work/model_repos.yaml"
aim() { node "$root/bin/aim.js" "$@"; }
# Each command in bold on a terminal; plain in a pipe or a log file, or with NO_COLOR set.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ aim %s%s\n' "$bold" "$*" "$plain"; aim "$@"; }

echo "working in $work"
node dist/fixtures/cli.js model "$work/checkpoint_v1" --size "${AIM_QUICKSTART_SIZE:-64MiB}" --seed 1
node dist/fixtures/cli.js derive "$work/checkpoint_v1" "$work/checkpoint_v2" --change 5% --insert 1KiB@4096 --seed 2

step repo create demo --type local --path "$work/repo"
step repo list
step model push demo resnet50-finetuned "$work/checkpoint_v1" --tag v1.0
step model push demo resnet50-finetuned "$work/checkpoint_v2" --tag v2.0
step model list demo
step model versions demo resnet50-finetuned
step model pull demo resnet50-finetuned "$work/models/resnet50" --tag v1.0
step pull demo/resnet50-finetuned:v2.0 "$work/models/resnet50"
cmp "$work/checkpoint_v2/weights.bin" "$work/models/resnet50/weights.bin" && echo "pulled v2.0 is byte-identical to checkpoint_v2"
step inspect demo/resnet50-finetuned:v2.0
step verify demo

if [ -f dist/commands/run.js ] && [ -f dist/fixtures/make-tiny-gguf.js ]; then
  mkdir -p "$work/tiny"
  node dist/fixtures/make-tiny-gguf.js "$work/tiny" --quant f16 >/dev/null
  node dist/fixtures/make-tiny-gguf.js "$work/tiny" --quant q8_0 >/dev/null
  step model push demo tiny-llama "$work/tiny" --tag v1
  step run demo/tiny-llama:v1 --quant "${AIM_QUICKSTART_QUANT:-q8_0}" --threads 1
  step ps
  port=$(aim ps --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const d=JSON.parse(s);const x=(d.deployments??d)[0];console.log(new URL(x.endpoint??x.baseUrl).port)})')
  echo; echo "\$ curl http://127.0.0.1:$port/v1/chat/completions"
  curl -s "http://127.0.0.1:$port/v1/chat/completions" -H 'content-type: application/json' \
    -d '{"model":"tiny-llama","messages":[{"role":"user","content":"hello"}],"max_tokens":8}'
  echo
  step stop --all
fi
echo; echo "done; everything is under $work (remove it when finished)"
