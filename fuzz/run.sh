#!/usr/bin/env bash
# Builds every fuzz target on stable Rust, then runs each for a fixed time on one core; fails
# on any crash, hang (an input slower than 10 s) or out-of-memory.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]   (default: 20 s, every target)
#        FUZZ_ARGS="-rss_limit_mb=512 ..." fuzz/run.sh ...   (extra libFuzzer flags)
#
# Stable Rust cannot build the default AddressSanitizer configuration (-Zsanitizer needs
# nightly), so targets are built with `-s none`: coverage-guided libFuzzer without ASan. Rust's
# own checks (bounds, panics) still turn every bug into a crash. The binaries run directly
# (not through `cargo fuzz run`, which would rebuild when any source changed in between). New
# inputs go to a scratch folder, so the checked-in seed corpus stays as it is; crash, hang
# (timeout-*) and out-of-memory (oom-*) inputs land in fuzz/artifacts/<target>/. The scratch
# folder is in memory when /dev/shm exists: libFuzzer writes a file per new input, and on a
# disk file system creating and replacing them took up to 45% of a 30 s run.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"
shift || true
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build -s none
host="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="target/$host/release"
scratch="$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)"
read -r -a extra_args <<<"${FUZZ_ARGS:-}"
trap 'rm -rf "$scratch"' EXIT
printf '%-18s %14s %12s %8s\n' target executions exec/s cov
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target" "artifacts/$target"
  log="$scratch/$target.log"
  if ! "$bin_dir/$target" "$scratch/$target" "corpus/$target" \
      -artifact_prefix="artifacts/$target/" -max_total_time="$seconds" -timeout=10 \
      -dict=jose.dict -print_final_stats=1 "${extra_args[@]}" >"$log" 2>&1; then
    tail -n 60 "$log"
    # libFuzzer names the input it saved: crash-*, timeout-* (hang) or oom-*.
    saved=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
    if [ -n "$saved" ]; then
      echo "fuzz target $target failed: $(basename "$saved" | cut -d- -f1), input fuzz/$saved;" \
        "reproduce: (cd fuzz && cargo fuzz run -s none $target $saved)" >&2
    else
      echo "fuzz target $target failed and saved no input (see the log above)" >&2
    fi
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  printf '%-18s %14s %12s %8s\n' "$target" "$runs" "$speed" "$cov"
done
