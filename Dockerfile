# The kube-release image: the static binary and CA certificates, nothing
# else (no shell, no package manager), run as a non-root user.
#
# The binary is built outside: hack/image.sh builds it (CGO off, -trimpath,
# -s -w, version ldflags) and puts it with a CA bundle into a build context
# of two files, so this builds offline from scratch, with buildah or docker:
#
#   bash hack/image.sh
#
# Hosted builders that build from source use multistage.Dockerfile.
FROM scratch

ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="kube-release" \
      org.opencontainers.image.description="Kubernetes deploy step for CI pipelines" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"

COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY kube-release /kube-release

# 65532 is "nonroot" in distroless images; scratch has no /etc/passwd, so
# the user is numeric, which also lets runAsNonRoot verify it.
USER 65532:65532
ENTRYPOINT ["/kube-release"]
