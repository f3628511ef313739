#!/usr/bin/env bash
# Runs every Go fuzz target for a while, one after another, and fails if
# any finds a crash (a panic, or a broken property such as "a history read
# can be written back").
#
#   bash hack/fuzz.sh          # 10 minutes per target
#   bash hack/fuzz.sh 30s      # any Go duration, or Nx for N inputs
#
# FUZZ_PARALLEL sets the fuzzing workers per target (default 1: the test
# machines have 2 shared cores; raise it on a bigger one).
# FUZZ_MINIMIZE_TIME bounds the shrinking of each new input (default 10s):
# with Go's 60s, a run of a few minutes spends most of its time shrinking
# inputs that merely reached new code, and explores little.
#
# The targets parse and render manifests (internal/manifest FuzzLoad,
# internal/render FuzzRender, internal/versioning FuzzFilter) and decode the
# release history (internal/release FuzzUnmarshalLegacy, FuzzDecodeConfigMap,
# FuzzDecodeSecret). Their seed corpora are in testdata/fuzz/<FuzzName>/ of
# each package, since Go reads a target's corpus relative to its package;
# they come from the repository's fixtures (testdata/sample,
# testdata/microservices-demo, testdata/kustomize,
# internal/manifest/testdata/load, internal/release/testdata). `go test`
# (hack/test.sh, .ci/run) runs every seed as a normal test, quickly; only
# this script fuzzes.
#
# A crash leaves its input in testdata/fuzz/<FuzzName>/ of the package and
# `go test` prints how to rerun it. Once fixed, keep that file: it stays a
# seed, so the crash stays tested. New inputs the fuzzer finds interesting
# go to Go's cache ($(go env GOCACHE)/fuzz), not to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${1:-10m}
parallel=${FUZZ_PARALLEL:-1}
minimize=${FUZZ_MINIMIZE_TIME:-10s}
targets=(
  "./internal/manifest FuzzLoad"
  "./internal/render FuzzRender"
  "./internal/versioning FuzzFilter"
  "./internal/release FuzzUnmarshalLegacy"
  "./internal/release FuzzDecodeConfigMap"
  "./internal/release FuzzDecodeSecret"
)

failed=()
for target in "${targets[@]}"; do
  read -r pkg name <<<"$target"
  echo "--- $name ($pkg) for $duration"
  start=$(date +%s)
  if go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$duration" \
    -fuzzminimizetime "$minimize" -parallel "$parallel"; then
    echo "--- $name: no crash in $(( $(date +%s) - start ))s"
  else
    echo "--- $name: FAILED after $(( $(date +%s) - start ))s (the crasher is in $pkg/testdata/fuzz/$name/)" >&2
    failed+=("$name")
  fi
done

if (( ${#failed[@]} > 0 )); then
  echo "fuzz: crashes in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no crash in ${#targets[@]} targets"
