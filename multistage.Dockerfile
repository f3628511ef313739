# kube-release built from source, for hosted builders (docker build,
# buildx, kaniko) and for the GitHub action:
#
#   docker build -f multistage.Dockerfile --target image \
#     --build-arg VERSION=v1.2.3 --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) -t kube-release .
#
# The name ends in "Dockerfile" because GitHub builds a docker action's
# image only from a path that does. The image is the same as Dockerfile's
# (built by hack/image.sh from a binary built outside).

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/kube-release .

# The image to publish for Drone, Harness CI and Tekton: the static binary
# and CA certificates, nothing else, run as a non-root user.
FROM scratch AS image
ARG VERSION=dev
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="kube-release" \
      org.opencontainers.image.description="Kubernetes deploy step for CI pipelines" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/kube-release /kube-release
USER 65532:65532
ENTRYPOINT ["/kube-release"]

# The last stage is what GitHub builds for action.yml. GitHub runs docker
# actions as root only: the workspace and the GITHUB_OUTPUT and
# GITHUB_STEP_SUMMARY files it mounts belong to the runner's user, and a
# non-root container user cannot write them.
FROM image AS github-action
USER 0:0
