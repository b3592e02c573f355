#!/usr/bin/env bash
# Fuzzes DockerfileSyntax (parser, expander, .dockerignore) with libFuzzer.
#   Fuzz/run-parser-fuzzer.sh [RUNS]      (default 10000000 executions)
#   FUZZ_SANITIZERS=fuzzer,address Fuzz/run-parser-fuzzer.sh   (with AddressSanitizer: several times slower)
#   FUZZ_MAX_LEN=1024 (default)           longest input libFuzzer generates
#   FUZZ_MERGE=1                          afterwards minimize the new inputs into Fuzz/corpus/parser
#   FUZZ_WORKERS=2                        two fuzzer processes share the executions and the corpus
# Seeds: Fuzz/corpus/parser (kept in the repo) plus every Dockerfile under Fixtures/.
# Prints libFuzzer's final stats; exits non-zero on a crash (the crash input is kept in $FUZZ_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10000000}
. Fuzz/fuzz-common.sh
fuzz_setup parser 1024
find Fixtures -name Dockerfile -exec sh -c 'cp "$1" "'"$out"'/corpus/fixture-$(echo "$1" | tr / _)"' _ {} \;
swiftc -O -sanitize="$sanitizers" -parse-as-library -module-name DockerfileSyntax \
  Sources/DockerfileSyntax/*.swift Fuzz/ParserFuzzer.swift -o "$out/parser-fuzzer"
run_fuzzer "$out/parser-fuzzer" "$out/corpus" Fuzz/corpus/parser
