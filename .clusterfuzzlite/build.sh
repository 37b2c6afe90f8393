#!/usr/bin/env bash
# Builds every fuzz target into $OUT with its seed corpus (<target>_seed_corpus.zip) and the
# JOSE/JSON dictionary (<target>.dict), as OSS-Fuzz and ClusterFuzzLite expect.
#
# In their builder image (nightly Rust) it runs with $SANITIZER=address. It is also a plain
# script for stable Rust, which CI exercises: `OUT=$(mktemp -d) .clusterfuzzlite/build.sh`
# builds with `-s none` (no sanitizer: stable cannot pass -Zsanitizer) and checks the output.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${OUT:?set OUT to the output folder}"
sanitizer="${SANITIZER:-none}"
mkdir -p "$OUT"
cd "$root/fuzz"

case "$sanitizer" in
  address) cargo fuzz build -O ;;                 # OSS-Fuzz: nightly, ASan (its default)
  none | undefined | coverage) cargo fuzz build -s none ;;   # as fuzz/run.sh: one build in CI
  *) cargo fuzz build -O -s "$sanitizer" ;;
esac

release_dir="$root/fuzz/target/x86_64-unknown-linux-gnu/release"
zip_folder() { # zip_folder DIR ARCHIVE: the files of DIR, flat, without the zip tool
  python3 - "$1" "$2" <<'PY'
import os, sys, zipfile
folder, archive = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            z.write(path, name)
PY
}
for target in $(cargo fuzz list); do
  cp "$release_dir/$target" "$OUT/$target"
  cp jose.dict "$OUT/$target.dict"
  if [ -d "corpus/$target" ]; then
    zip_folder "corpus/$target" "$OUT/${target}_seed_corpus.zip"
  fi
  printf '[libfuzzer]\ndict = %s.dict\ntimeout = 10\n' "$target" > "$OUT/$target.options"
done
echo "built $(cargo fuzz list | wc -l) targets into $OUT"
