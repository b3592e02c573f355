#!/usr/bin/env bash
# Fuzzes DockerfileSyntax (parser, expander, .dockerignore) with libFuzzer.
#   Fuzz/run-parser-fuzzer.sh [RUNS]      (default 1000000 executions)
#   FUZZ_SANITIZERS=fuzzer Fuzz/run-parser-fuzzer.sh   (without AddressSanitizer: several times faster)
# Seeds: Fuzz/corpus/parser (kept in the repo) plus every Dockerfile under Fixtures/.
# Prints libFuzzer's final stats; exits non-zero on a crash (the crash input is kept in Fuzz/out).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000000}
out=${FUZZ_OUT:-Fuzz/out}
sanitizers=${FUZZ_SANITIZERS:-fuzzer,address}
mkdir -p "$out/corpus"
cp Fuzz/corpus/parser/* "$out/corpus/" 2>/dev/null || true
find Fixtures -name Dockerfile -exec sh -c 'cp "$1" "'"$out"'/corpus/fixture-$(echo "$1" | tr / _)"' _ {} \;
swiftc -O -sanitize="$sanitizers" -parse-as-library -module-name DockerfileSyntax \
  Sources/DockerfileSyntax/*.swift Fuzz/ParserFuzzer.swift -o "$out/parser-fuzzer"
"$out/parser-fuzzer" -runs="$runs" -max_len=4096 -timeout=10 -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" \
  > "$out/fuzz.log" 2>&1 || { tail -n 40 "$out/fuzz.log"; exit 1; }
tail -n 20 "$out/fuzz.log"
