#!/usr/bin/env bash
# Records benchmark: generates a maildir of N messages (default 200,000),
# ingests it with custos and indexes it with notmuch (the peer, installed
# here from Debian if missing), then prints messages per second, index
# size and query latency for both, with custos/notmuch ratios.
# usage: bench/records/run.sh [BUILD_DIR] [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-bench}
n=${2:-200000}
if [ ! -x "$build/custos" ] || [ ! -x "$build/bench/records/bench_records_gen" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCUSTOS_TESTS=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" >/dev/null
fi
if ! command -v notmuch >/dev/null; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get install -y -qq --no-install-recommends notmuch >/dev/null
fi
work=${BENCH_DIR:-$(mktemp -d /tmp/custos-bench-XXXXXX)}
mkdir -p "$work"
md=$work/maildir
ws=$work/ws
now() { date +%s.%N; }
mb() { du -sm "$1" | cut -f1; }

echo "== corpus: $n messages"
rm -rf "$md" "$ws" "$work/notmuch"
"$build/bench/records/bench_records_gen" "$md" "$n" 42
echo "maildir: $(mb "$md") MiB"
sync

echo "== custos"
"$build/custos" -w "$ws" -q init
# CPU seconds (user + system) are printed next to the wall time: on a
# machine shared with other work the wall time says more about the load
# than about the code.
timed() { # FILE COMMAND...: runs it, "user sys" seconds into FILE
  local out=$1
  shift
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%U %S" -o "$out" "$@"
  else
    echo "nan 0" >"$out"
    "$@"
  fi
}
cpu() { awk '{printf "%.1f", $1 + $2}' "$1"; }
t0=$(now)
timed "$work/c.cpu" "$build/custos" -w "$ws" -q ingest mail "$md" --custodian bench
t1=$(now)
sqlite3 "$ws/custos.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
c_secs=$(echo "$t1 - $t0" | bc -l)
c_rate=$(echo "$n / $c_secs" | bc -l)
c_size=$(mb "$ws/custos.db")
printf "ingest: %.1f s (CPU %s s), %.0f messages/s; index %s MiB (text, FTS5, custody)\n" \
  "$c_secs" "$(cpu "$work/c.cpu")" "$c_rate" "$c_size"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/records/bench_records_query" "$ws" 100 | tee "$work/custos-q.txt"

echo "== notmuch $(notmuch --version | cut -d' ' -f2)"
cfg=$work/notmuch-config
mkdir -p "$work/notmuch"
cat >"$cfg" <<CFG
[database]
path=$work/notmuch
mail_root=$md
[new]
tags=
[maildir]
synchronize_flags=false
CFG
export NOTMUCH_CONFIG=$cfg
t0=$(now)
timed "$work/m.cpu" notmuch new --quiet
t1=$(now)
m_secs=$(echo "$t1 - $t0" | bc -l)
m_rate=$(echo "$n / $m_secs" | bc -l)
m_size=$(mb "$work/notmuch")
printf "ingest: %.1f s (CPU %s s), %.0f messages/s; index %s MiB\n" \
  "$m_secs" "$(cpu "$work/m.cpu")" "$m_rate" "$m_size"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# Command-line latency, same shape for both: count plus the first 20 hits,
# one process per query (so process start-up is in both figures).
p50() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cli() { # NAME CUSTOS_QUERY SORT NOTMUCH_QUERY
  local name=$1 cq=$2 sort=$3 nq=$4 i c m
  : >"$work/c.t"; : >"$work/m.t"
  for i in $(seq 1 20); do
    t0=$(now); "$build/custos" -w "$ws" -q search "$cq" --sort "$sort" --limit 20 >/dev/null; t1=$(now)
    echo "($t1 - $t0) * 1000" | bc -l >>"$work/c.t"
    t0=$(now)
    notmuch count "$nq" >/dev/null
    notmuch search --output=messages --limit=20 \
      --sort="$([ "$sort" = date ] && echo newest-first || echo newest-first)" "$nq" >/dev/null
    t1=$(now)
    echo "($t1 - $t0) * 1000" | bc -l >>"$work/m.t"
  done
  c=$(p50 <"$work/c.t"); m=$(p50 <"$work/m.t")
  printf "%-14s custos CLI p50 %7.1f ms   notmuch CLI p50 %7.1f ms   ratio %.2f\n" \
    "$name" "$c" "$m" "$(echo "$c / $m" | bc -l)"
}
echo "== command-line query latency (p50 of 20, process start-up included)"
cli phrase '"expansion plan"' relevance '"expansion plan"'
cli near 'NEAR(quillfeather budget, 10)' relevance 'quillfeather NEAR/10 budget'
cli prefix 'quill*' relevance 'quill*'
cli broad-by-date 'the' date 'the'

echo "== ratios (custos / notmuch)"
printf "ingest speed: %.2fx (custos %.0f/s, notmuch %.0f/s)\n" \
  "$(echo "$c_rate / $m_rate" | bc -l)" "$c_rate" "$m_rate"
printf "index size:   %.2fx (custos %s MiB, notmuch %s MiB)\n" \
  "$(echo "$c_size / $m_size" | bc -l)" "$c_size" "$m_size"
echo "work folder: $work (remove it when done)"
