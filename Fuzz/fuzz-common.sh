# Shared by Fuzz/run-*-fuzzer.sh (sourced, not run).
#
# The OCIImage sources import swift-crypto, which is not a system module: it is built once by
# SwiftPM (`swift build --target Crypto`, debug, into .build) and its objects are linked into the
# fuzzer. berth's own sources are compiled with swiftc -sanitize=$sanitizers (coverage for
# libFuzzer); swift-crypto is not instrumented.

fuzz_wrapper=()

# For target $1 (parser, tar, json): out (FUZZ_OUT, else Fuzz/out-$1), sanitizers
# (FUZZ_SANITIZERS, else fuzzer), max_len (FUZZ_MAX_LEN, else $2); the repository's seeds
# (Fuzz/corpus/$1) are copied into the working corpus $out/corpus.
fuzz_setup() {
  out=${FUZZ_OUT:-Fuzz/out-$1}
  sanitizers=${FUZZ_SANITIZERS:-fuzzer}
  max_len=${FUZZ_MAX_LEN:-$2}
  mkdir -p "$out/corpus"
  cp "Fuzz/corpus/$1"/* "$out/corpus/" 2> /dev/null || true
}

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
# namespace). FUZZ_WORKERS=N (default 1) shares the executions among N fuzzer processes on the one
# corpus (libFuzzer reloads it, so each sees what the others found); worker i gets FUZZ_WORKER=i
# and writes $out/fuzz-i.log. A crash in any worker stops them all.
run_fuzzer() {
  local fuzzer=$1 corpus=$2 seeds=$3
  shift 3
  local workers=${FUZZ_WORKERS:-1} pids=() i status=0
  for ((i = 0; i < workers; i++)); do
    FUZZ_WORKER=$i SWIFT_BACKTRACE=enable=no nice -n 5 "${fuzz_wrapper[@]}" "$fuzzer" \
      -runs="$(((runs + workers - 1) / workers))" -max_len="$max_len" -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$out/" "$@" "$corpus" > "$out/fuzz-$i.log" 2>&1 &
    pids+=($!)
  done
  # The first worker to stop with a finding ends the others.
  while ((${#pids[@]} > 0)); do
    local rc=0 done_pid
    wait -n -p done_pid "${pids[@]}" || rc=$?
    local left=() p
    for p in "${pids[@]}"; do [ "$p" = "$done_pid" ] || left+=("$p"); done
    pids=("${left[@]}")
    if ((rc != 0)); then
      status=$rc
      if ((${#pids[@]} > 0)); then
        kill "${pids[@]}" 2> /dev/null || true
        wait "${pids[@]}" 2> /dev/null || true
      fi
      pids=()
    fi
  done
  local total=0 units
  for ((i = 0; i < workers; i++)); do
    if ((status != 0)); then tail -n 40 "$out/fuzz-$i.log"; else tail -n 20 "$out/fuzz-$i.log"; fi
    units=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz-$i.log")
    total=$((total + ${units:-0}))
  done
  echo "executions in all: $total ($workers worker(s))"
  ((status == 0)) || exit 1
  if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    nice -n 5 "${fuzz_wrapper[@]}" "$fuzzer" -merge=1 -max_len="$max_len" "$@" "$seeds" "$corpus" > "$out/merge.log" 2>&1
    tail -n 2 "$out/merge.log"
  fi
}
