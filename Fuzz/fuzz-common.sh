# Shared by Fuzz/run-*-fuzzer.sh (sourced, not run).
#
# The OCIImage sources import swift-crypto, which is not a system module: it is built once by
# SwiftPM (`swift build --target Crypto`, debug, into .build) and its objects are linked into the
# fuzzer. berth's own sources are compiled with swiftc -sanitize=$sanitizers (coverage for
# libFuzzer); swift-crypto is not instrumented.

fuzz_wrapper=()

crypto_ready() {
  bin=.build/debug
  if [ ! -e "$bin/Modules/Crypto.swiftmodule" ]; then
    nice -n 5 swift build --target Crypto > "$out/crypto-build.log" 2>&1 || { tail -n 20 "$out/crypto-build.log"; exit 1; }
  fi
  crypto_flags=(-I "$bin/Modules")
  for map in .build/checkouts/swift-crypto/Sources/*/include/module.modulemap; do
    crypto_flags+=(-Xcc "-fmodule-map-file=$map" -Xcc "-I$(dirname "$map")")
  done
  mapfile -t crypto_objects < <(find "$bin/Crypto.build" "$bin/CCryptoBoringSSL.build" \
    "$bin/CCryptoBoringSSLShims.build" "$bin/CryptoBoringWrapper.build" -name '*.o' | sort)
}

# OCIImage as a module of its own: $out/modules/OCIImage.swiftmodule and $out/OCIImage.o.
build_ociimage() {
  mkdir -p "$out/modules"
  nice -n 5 swiftc -O -sanitize="$sanitizers" -parse-as-library -wmo -module-name OCIImage \
    -emit-module -emit-module-path "$out/modules/OCIImage.swiftmodule" "${crypto_flags[@]}" \
    -c Sources/OCIImage/*.swift -o "$out/OCIImage.o"
}

# Runs "$1" (the fuzzer binary) for $runs executions on "$2" (its working corpus), then, with
# FUZZ_MERGE=1, merges what it found into "$3" (the repository's corpus, minimized). A script may
# set fuzz_wrapper=(...) to a command the fuzzer runs under (the tar fuzzer: a private mount
# namespace).
run_fuzzer() {
  local fuzzer=$1 corpus=$2 seeds=$3
  shift 3
  SWIFT_BACKTRACE=enable=no nice -n 5 "${fuzz_wrapper[@]}" "$fuzzer" -runs="$runs" -max_len="$max_len" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$out/" "$@" "$corpus" > "$out/fuzz.log" 2>&1 || { tail -n 40 "$out/fuzz.log"; exit 1; }
  tail -n 20 "$out/fuzz.log"
  if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    nice -n 5 "${fuzz_wrapper[@]}" "$fuzzer" -merge=1 -max_len="$max_len" "$@" "$seeds" "$corpus" > "$out/merge.log" 2>&1
    tail -n 2 "$out/merge.log"
  fi
}
