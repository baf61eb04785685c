#!/bin/bash
# Profile one app under load: bench/profile/profile.sh APP_DIR [spinkube up flags...]
# Serves APP with the release `spinkube`, drives `spinkube-bench load` at it, records the server
# with `perf record -g` and prints req/s and the share of CPU per request phase (phases.py).
# Build with frame pointers first for whole call chains:
#   RUSTFLAGS="-C force-frame-pointers=yes" cargo build --release -p spinkube-cli -p spinkube-bench
# DRILL="<phase name>" N=40 list the frames inside one phase. PERF_CALLGRAPH="--call-graph dwarf"
# unwinds a build without frame pointers (slower, and chains through guest code break).
set -euo pipefail
app=$(realpath "$1"); shift
here=$(dirname "$(realpath "$0")")
target=${CARGO_TARGET_DIR:-$HOME/.cache/spinkube/target}/release
out=$(mktemp -d /tmp/spinkube-profile-XXXXXX)
port=${PORT:-3199}
(cd "$app" && exec "$target/spinkube" up -q --listen "127.0.0.1:$port" "$@" >"$out/up.log" 2>&1) &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
until curl -sf "127.0.0.1:$port/" -o /dev/null; do
    kill -0 $server 2>/dev/null || { cat "$out/up.log"; exit 1; }
    sleep 0.2
done
"$target/spinkube-bench" load "127.0.0.1:$port" / >"$out/load" &
loader=$!
sleep 1 # past the loader's warm-up
perf record ${PERF_CALLGRAPH:--g} -p "$server" -o "$out/perf.data" -- sleep 3 >/dev/null 2>&1
wait $loader
echo "under perf: $(cat "$out/load")"
grep VmHWM "/proc/$server/status" || true
python3 "$here/phases.py" "$out/perf.data"
echo "perf data: $out/perf.data"
