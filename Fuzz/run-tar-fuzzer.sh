#!/usr/bin/env bash
# Fuzzes the layer tar reader (LayerArchive.unpack: decompression, extraction, whiteouts) with
# libFuzzer; see Fuzz/TarFuzzer.swift for the input format and the invariants checked.
#   Fuzz/run-tar-fuzzer.sh [RUNS]         (default 10000000 executions)
#   FUZZ_SANITIZERS=fuzzer,address        (with AddressSanitizer: several times slower)
#   FUZZ_MAX_LEN=8192 (default)           longest input libFuzzer generates
#   FUZZ_MERGE=1                          afterwards minimize the new inputs into Fuzz/corpus/tar
#   FUZZ_TAR_WORK=/dev/shm/berth-fuzz-tar (default) the work directory (worker i adds -i)
#   FUZZ_WORKERS=2                        two fuzzer processes share the executions and the corpus
# Seeds: Fuzz/corpus/tar (Fuzz/make-tar-seeds.py writes the hand-made ones).
# Prints libFuzzer's final stats; exits non-zero on a crash (the crash input is kept in $FUZZ_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10000000}
. Fuzz/fuzz-common.sh
fuzz_setup tar 8192
crypto_ready
build_ociimage
nice -n 5 swiftc -O -sanitize="$sanitizers" -parse-as-library -module-name LayerArchive \
  -I "$out/modules" -I Sources/CArchive "${crypto_flags[@]}" \
  Sources/LayerArchive/*.swift Fuzz/TarFuzzer.swift "$out/OCIImage.o" "${crypto_objects[@]}" -larchive \
  -o "$out/tar-fuzzer"
trap 'rm -rf "${FUZZ_TAR_WORK:-/dev/shm/berth-fuzz-tar}"-*' EXIT
# The harness mounts tmpfs generations on its work directory: in a mount namespace of its own.
fuzz_wrapper=(unshare --mount --propagation private)
run_fuzzer "$out/tar-fuzzer" "$out/corpus" Fuzz/corpus/tar
