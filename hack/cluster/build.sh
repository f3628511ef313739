#!/usr/bin/env bash
# Builds the local control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok) from the pinned Go modules under tools/, once.
# The binaries land in a cache outside the repository, keyed by the pinned
# module files and the Go version, so later runs only pay a hash.
#
# Prints the directory holding the binaries on stdout; progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tools="$here/tools"
kube_version=v1.34.4

cache_root=${KUBE_RELEASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-release}
key=$( { go version; cat "$tools"/*/go.mod "$tools"/*/go.sum "$0"; } | sha256sum | cut -c1-16)
out="$cache_root/cluster/$kube_version-$key"
bin="$out/bin"

if [ -f "$out/.complete" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache_root/cluster"
# Several test binaries may ask at once: one builds, the rest wait for it.
exec 9>"$cache_root/cluster/.build.lock"
flock 9
if [ -f "$out/.complete" ]; then
  echo "$bin"
  exit 0
fi

rm -rf "$out"
mkdir -p "$bin"
echo "building the local control plane into $out (first run only, about 7 minutes)" >&2
start=$(date +%s)

version_flags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  version_flags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=34"
  version_flags+=" -X $pkg.gitTreeState=clean"
done

# readonly: the pinned go.sum files are complete; a build never edits them.
export CGO_ENABLED=0 GOFLAGS=-mod=readonly
(cd "$tools/kube" && go build -trimpath -ldflags "-s -w$version_flags" -o "$bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl) >&2
(cd "$tools/etcd" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3) >&2
(cd "$tools/kwok" && go build -trimpath -ldflags "-s -w" -o "$bin/kwok" sigs.k8s.io/kwok/cmd/kwok) >&2

touch "$out/.complete"
echo "built the local control plane in $(( $(date +%s) - start ))s" >&2
echo "$bin"
