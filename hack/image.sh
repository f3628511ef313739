#!/usr/bin/env bash
# Builds the kube-release image with buildah, offline, and checks it:
#
#   bash hack/image.sh [-t TAG] [--oci DIR]
#
# 1. builds the static binary (CGO off, -trimpath, -s -w, version ldflags);
# 2. puts it with the machine's CA bundle into a build context of two files
#    and builds Dockerfile (FROM scratch, so no base image is pulled);
# 3. checks the image: its user is numeric and not root, its entrypoint is
#    the binary, it holds the binary and the CA bundle and nothing else, and
#    its size (target: at most MAX_SIZE_MB, uncompressed); over the target
#    it says so and names the packages that take the room;
# 4. unpacks it and runs the binary from it with --version.
#
# Environment:
#   VERSION, COMMIT, DATE  what --version prints (default: git describe,
#                          git rev-parse HEAD and the current UTC time)
#   BUILDAH_ROOT           a private buildah storage directory, emptied
#                          afterwards (default: buildah's own storage, where
#                          the image stays for buildah push)
#   MAX_SIZE_MB            the size target (default 40); exceeding it is
#                          an error, or only a warning with STRICT_SIZE=0
#   CA_BUNDLE              the CA certificates (default
#                          /etc/ssl/certs/ca-certificates.crt)
#
# Without buildah, and running as root on Debian or Ubuntu, it installs
# buildah with apt-get first.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=localhost/kube-release:dev
oci_out=
while [ $# -gt 0 ]; do
  case "$1" in
    -t) tag=$2; shift 2 ;;
    --oci) oci_out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '%s\n' "--- $*"; }
fail() { printf 'image: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || fail "Go is required (https://go.dev/dl/)"
if ! command -v buildah >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing buildah (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >/dev/null
  else
    fail "buildah is required: apt-get install buildah (as root), or see https://buildah.io"
  fi
fi

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
date=${DATE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
max_mb=${MAX_SIZE_MB:-40}
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$ca_bundle" ] || fail "no CA bundle at $ca_bundle (install ca-certificates, or set CA_BUNDLE)"

work=$(mktemp -d)
buildah_args=(--storage-driver vfs)
if [ -n "${BUILDAH_ROOT:-}" ]; then
  buildah_args+=(--root "$BUILDAH_ROOT/root" --runroot "$BUILDAH_ROOT/run")
fi
cleanup() {
  if [ -n "${BUILDAH_ROOT:-}" ]; then
    buildah "${buildah_args[@]}" rmi --all --force >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

ldflags="-X main.version=$version -X main.commit=$commit -X main.date=$date"
context="$work/context"
mkdir -p "$context"
say "building the binary ($version, commit $commit, built $date)"
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w $ldflags" -o "$context/kube-release" .
chmod 0755 "$context/kube-release"
install -m 0644 "$ca_bundle" "$context/ca-certificates.crt"
cp Dockerfile "$context/Dockerfile"

# A static binary: built with cgo off and no path of this machine in it.
settings=$(go version -m "$context/kube-release")
grep -q $'\tbuild\tCGO_ENABLED=0$' <<<"$settings" || fail "the binary was not built with CGO_ENABLED=0"
grep -q $'\tbuild\t-trimpath=true$' <<<"$settings" || fail "the binary was not built with -trimpath"

say "building the image $tag"
buildah "${buildah_args[@]}" bud --isolation chroot --quiet \
  --build-arg VERSION="$version" --build-arg COMMIT="$commit" \
  -f "$context/Dockerfile" -t "$tag" "$context" >/dev/null

say "checking the image"
user=$(buildah "${buildah_args[@]}" inspect --type image --format '{{.OCIv1.Config.User}}' "$tag")
case "$user" in
  0|0:*|root|root:*|"") fail "the image runs as root (user \"$user\")" ;;
  *[!0-9:]*) fail "the image user \"$user\" is not numeric, so runAsNonRoot cannot verify it" ;;
esac
echo "user: $user"
# Go template syntax of a []string: [/kube-release].
entrypoint=$(buildah "${buildah_args[@]}" inspect --type image --format '{{.OCIv1.Config.Entrypoint}}' "$tag")
[ "$entrypoint" = '[/kube-release]' ] || fail "the entrypoint is $entrypoint, want [/kube-release]"
echo "entrypoint: $entrypoint"

# Unpack through an image layout on disk: no mount privileges needed. In a
# dir: layout each blob is a file named by its digest; the manifest lists
# the config first, then the layers.
layout="$work/layout"
buildah "${buildah_args[@]}" push --quiet "$tag" "dir:$layout" >/dev/null
layers=$(sed 's/.*"layers"://' "$layout/manifest.json" | grep -o '"digest": *"sha256:[0-9a-f]*"' | sed 's/.*sha256://; s/"//')
[ -n "$layers" ] || fail "no layers in $layout/manifest.json"
rootfs="$work/rootfs"
mkdir -p "$rootfs"
size=0
for layer in $layers; do
  # A layer may be stored compressed or not; tar and gzip -f read both.
  tar -xf "$layout/$layer" -C "$rootfs"
  size=$((size + $(gzip -cdf "$layout/$layer" | wc -c)))
done
gz=$(cd "$rootfs" && tar -cf - . | gzip -9 | wc -c)

contents=$(cd "$rootfs" && find . ! -type d | sort | tr '\n' ' ')
[ "$contents" = "./etc/ssl/certs/ca-certificates.crt ./kube-release " ] ||
  fail "the image holds more than the binary and the CA bundle: $contents"
echo "files: $contents"

mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }
binary_size=$(stat -c %s "$rootfs/kube-release")
echo "size: $(mb "$size") uncompressed (the binary $(mb "$binary_size")), $(mb "$gz") compressed (gzip -9); target: at most $max_mb MB"
if [ "$size" -gt $((max_mb * 1000000)) ]; then
  echo "SIZE OVER TARGET: the image is $(mb "$size") uncompressed, over the target of $max_mb MB."
  echo "Code in the binary by module (text bytes; the function tables a stripped Go binary keeps grow with it):"
  go build -trimpath -ldflags="$ldflags" -o "$work/kube-release.symbols" .
  go tool nm -size -sort size "$work/kube-release.symbols" | awk '
    $3 ~ /^[Tt]$/ && $4 !~ /^local\./ {
      name = $4; sub(/^type:/, "", name); sub(/^[*(]+/, "", name); sub(/[(\[].*/, "", name)
      n = split(name, el, "/"); sub(/\..*/, "", el[n])
      # The module, roughly: two path elements for a domain (k8s.io/api),
      # one for the standard library (crypto).
      key = el[1]
      if (el[1] ~ /\./ && n > 1) key = key "/" el[2]
      size[key] += $2
    }
    END { for (k in size) printf "%8.2f MB  %s\n", size[k] / 1000000, k }' | sort -rn | awk 'NR <= 12'
  if [ "${STRICT_SIZE:-1}" = 1 ]; then
    fail "the image is over the size target"
  fi
fi

say "running the binary from the image"
out=$("$rootfs/kube-release" --version)
echo "$out"
want="kube-release $version (commit $commit, built $date)"
[ "$out" = "$want" ] || fail "--version printed \"$out\", want \"$want\""

if [ -n "$oci_out" ]; then
  buildah "${buildah_args[@]}" push --quiet "$tag" "oci:$oci_out" >/dev/null
  echo "OCI layout written to $oci_out"
fi
say "image $tag ok"
