#!/usr/bin/env bash
# Runs the whole test suite, as CI does: formatting, vet, and every test,
# including those against the local control plane (built on first use into
# ~/.cache/kube-release, about 7 minutes on 2 cores; later runs reuse it).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v go >/dev/null || { echo "test: Go is required (https://go.dev/dl/)" >&2; exit 1; }

echo "--- local control plane binaries"
bash hack/cluster/build.sh >/dev/null

echo "--- gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './hack/cluster/tools/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi

echo "--- go vet"
go vet ./...

echo "--- go test"
go test -count=1 -timeout 40m "$@" ./...
