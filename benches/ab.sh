#!/bin/bash
# A/B of two search bench binaries, alternated run by run so that the VM's speed drift (up to
# 2x over an hour here) hits both alike; prints each query's median p50 over the runs.
#
#   benches/ab.sh BASE_BINARY NEW_BINARY RUNS [VAR=value ...]
#
# The binaries are copies of target/release/deps/search-* from the two builds; the store is
# SOFI_BENCH_GARDER's (default /tmp/sb1m, made by a first `SOFI_BENCH_GARDER=/tmp/sb1m
# SOFI_BENCH_SESSIONS=1000000 cargo bench --bench search`).
set -euo pipefail
base=$1 new=$2 n=$3
shift 3
out=$(mktemp)
for _ in $(seq "$n"); do
  for b in base new; do
    bin=$base
    [ "$b" = new ] && bin=$new
    env SOFI_BENCH_GARDER="${SOFI_BENCH_GARDER:-/tmp/sb1m}" SOFI_BENCH_SESSIONS=1000000 \
      SOFI_BENCH_SANS_REINDEX=1 SOFI_BENCH_SANS_HTTP=1 SOFI_BENCH_DETAIL=1 \
      SOFI_BENCH_ROUNDS="${SOFI_BENCH_ROUNDS:-10}" "$@" "$bin" 2>&1 |
      grep -E " p50 " | sed -E "s/^ +/$b|/; s/ +p50 +/|/; s/ ms .*//" >>"$out"
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
    print(f"{k[:40]:40} base {a:6.2f} ms   new {n:6.2f} ms   new/base {n / a:.2f}")
PY
rm -f "$out"
