#!/bin/bash
# A/B of two search bench binaries, alternated run by run so that the VM's speed drift (up to
# 2x over an hour here) hits both alike; prints each query's median p50 over the runs.
#
#   benches/ab.sh BASE_BINARY NEW_BINARY RUNS [VAR=value ...]
#
# The binaries are copies of target/release/deps/search-* from the two builds; the store is
# SOFI_BENCH_GARDER's (default /tmp/sb1m, made by a first `SOFI_BENCH_GARDER=/tmp/sb1m
# SOFI_BENCH_SESSIONS=1000000 cargo bench --bench search`); AB_GARDER_BASE / AB_GARDER_NEW give
# each binary its own copy of it, when the two index layouts differ (each keeps its index
# instead of rebuilding it every run). SOFI_BENCH_SESSIONS picks
# another size (its store made the same way); AB_HTTP=1 also runs the HTTP part and
# compares its throughput (req/s: higher is better).
set -euo pipefail
base=$1 new=$2 n=$3
shift 3
out=$(mktemp)
for _ in $(seq "$n"); do
  for b in base new; do
    bin=$base
    [ "$b" = new ] && bin=$new
    http=(SOFI_BENCH_SANS_HTTP=1)
    [ "${AB_HTTP:-}" = 1 ] && http=()
    garder=${SOFI_BENCH_GARDER:-/tmp/sb1m}
    [ "$b" = base ] && garder=${AB_GARDER_BASE:-$garder}
    [ "$b" = new ] && garder=${AB_GARDER_NEW:-$garder}
    env SOFI_BENCH_GARDER="$garder" \
      SOFI_BENCH_SESSIONS="${SOFI_BENCH_SESSIONS:-1000000}" \
      SOFI_BENCH_SANS_REINDEX=1 "${http[@]}" SOFI_BENCH_DETAIL=1 \
      SOFI_BENCH_ROUNDS="${SOFI_BENCH_ROUNDS:-10}" "$@" "$bin" 2>&1 |
      grep -E " p50 |req/s" | grep -v " µs " |
      sed -E "s/^ +HTTP concurrency +([0-9]+): ([0-9.]+) req\/s.*/$b|HTTP c\1 (req\/s)|\2/; s/^ +/$b|/; s/ +p50 +/|/; s/ ms .*//" >>"$out"
  done
done
python3 - "$out" <<'PY'
import collections, statistics, sys
d = collections.defaultdict(list)
for l in open(sys.argv[1]):
    b, k, v = l.rstrip("\n").split("|")
    d[k, b].append(float(v))
for k in dict.fromkeys(k for k, _ in d):
    a, n = statistics.median(d[k, "base"]), statistics.median(d[k, "new"])
    unite = "req/s" if "req/s" in k else "ms"
    print(f"{k[:40]:40} base {a:8.2f} {unite}   new {n:8.2f} {unite}   new/base {n / a:.2f}")
PY
rm -f "$out"
