#!/usr/bin/env bash
# Runs the reliability tests at full length: 20 SIGTERMs during a wait, 20
# concurrent deploys, an API server restart mid-wait. .ci/run runs the same
# tests with shorter loops.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/cluster/build.sh >/dev/null
KUBE_RELEASE_SOAK=1 go test -count=1 -timeout 30m -v \
  -run 'TestInterruptDuringWait|TestKilledRunIsRecoveredAfterLockExpiry|TestConcurrentDeploys|TestAPIServerRestartDuringWait' \
  ./e2e/ "$@"
