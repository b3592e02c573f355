#!/usr/bin/env bash
# Fuzzes the JSON berth reads from registries, archives and docker's config with libFuzzer;
# see Fuzz/JSONFuzzer.swift for the decoders called and the invariants checked.
#   Fuzz/run-json-fuzzer.sh [RUNS]        (default 10000000 executions)
#   FUZZ_SANITIZERS=fuzzer,address        (with AddressSanitizer: several times slower)
#   FUZZ_MAX_LEN=4096 (default)           longest input libFuzzer generates
#   FUZZ_MERGE=1                          afterwards minimize the new inputs into Fuzz/corpus/json
# Seeds: Fuzz/corpus/json (real docker/skopeo output, OCI spec examples, token answers, config.json).
# Prints libFuzzer's final stats; exits non-zero on a crash (the crash input is kept in $FUZZ_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10000000}
. Fuzz/fuzz-common.sh
fuzz_setup json 4096
crypto_ready
build_ociimage
# The Registry sources that need neither the store nor the network.
nice -n 5 swiftc -O -sanitize="$sanitizers" -parse-as-library -module-name Registry \
  -I "$out/modules" "${crypto_flags[@]}" \
  Sources/Registry/{AuthChallenge,DockerConfig,RegistryError,RegistryResponses}.swift Fuzz/JSONFuzzer.swift \
  "$out/OCIImage.o" "${crypto_objects[@]}" -o "$out/json-fuzzer"
run_fuzzer "$out/json-fuzzer" "$out/corpus" Fuzz/corpus/json -dict=Fuzz/json.dict
