#!/usr/bin/env bash
# Demo: starts the local control plane, builds kube-release, deploys the
# sample app in testdata/sample twice (v1, then v2), then a broken v3 that
# fails and is rolled back, and prints the release history.
# The first run builds the control plane (about 7 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v go >/dev/null || { echo "demo: Go is required (https://go.dev/dl/)" >&2; exit 1; }

bin=$(bash hack/cluster/build.sh)
work=$(mktemp -d)
mkdir -p "$work/bin"
echo "--- building kube-release"
go build -o "$work/bin/kube-release" .
go build -o "$work/bin/localcluster" ./hack/localcluster

echo "--- starting the local control plane"
"$work/bin/localcluster" -dir "$work/cluster" > "$work/localcluster.log" 2>&1 &
cluster=$!
cleanup() {
  kill "$cluster" 2>/dev/null && wait "$cluster" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 120); do
  [ -f "$work/cluster/ready" ] && break
  kill -0 "$cluster" 2>/dev/null || { cat "$work/localcluster.log" >&2; exit 1; }
  sleep 0.5
done
[ -f "$work/cluster/ready" ] || { cat "$work/localcluster.log" >&2; exit 1; }
export KUBECONFIG="$work/cluster/kubeconfig"
kubectl="$bin/kubectl"
"$kubectl" create namespace demo >/dev/null

run() {
  echo
  echo "--- kube-release $*"
  env PLUGIN_RELEASE=sample PLUGIN_NAMESPACE=demo PLUGIN_FAIL_FAST_AFTER=5s "$@" "$work/bin/kube-release"
}

run PLUGIN_STEP=rolling PLUGIN_MANIFESTS=testdata/sample/v1
run PLUGIN_STEP=rolling PLUGIN_MANIFESTS=testdata/sample/v2
# v3: v2 with a web image that never becomes ready; the deploy fails fast.
if run PLUGIN_STEP=rolling PLUGIN_MANIFESTS=testdata/sample/v2 \
  PLUGIN_IMAGES=registry.local/web=registry.local/web:does-not-exist; then
  echo "demo: the broken release deployed" >&2
  exit 1
fi
run PLUGIN_STEP=rollback

echo
echo "--- objects in namespace demo"
"$kubectl" -n demo get deployments,statefulsets,daemonsets,configmaps,secrets

run PLUGIN_STEP=history
