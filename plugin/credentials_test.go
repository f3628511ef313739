package plugin

import (
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestExplainCredentials(t *testing.T) {
	unauthorized := fmt.Errorf("deploy lock: %w", apierrors.NewUnauthorized("Unauthorized"))
	err := explainCredentials(unauthorized)
	want := "deploy lock: Unauthorized: the API server did not accept the credentials; check the token or the kubeconfig's user, and whether they have expired"
	if err.Error() != want {
		t.Errorf("error %q\nwant %q", err, want)
	}
	if !apierrors.IsUnauthorized(err) {
		t.Error("the explained error is no longer Unauthorized")
	}
	other := errors.New("connection refused")
	if got := explainCredentials(other); got != other {
		t.Errorf("another error changed: %v", got)
	}
}
