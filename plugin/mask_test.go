package plugin

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

func TestMaskValues(t *testing.T) {
	const key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKEYLINEONE\nKEYLINETWO==\n-----END EC PRIVATE KEY-----\n"
	keyData := base64.StdEncoding.EncodeToString([]byte(key))
	kubeconfig := `apiVersion: v1
kind: Config
current-context: c
clusters:
- name: c
  cluster: {server: "https://k8s.test"}
contexts:
- name: c
  context: {cluster: c, user: u}
users:
- name: u
  user: {token: tok-in-kubeconfig, client-key-data: ` + keyData + `}
- name: p
  user: {username: admin, password: pass-in-kubeconfig}
- name: o
  user:
    auth-provider:
      name: oidc
      config: {client-id: kube, client-secret: oidc-secret, id-token: oidc-token}
`
	b64 := base64.StdEncoding.EncodeToString([]byte(kubeconfig))
	wrapped := b64[:76] + "\n" + b64[76:]

	inside := []string{"tok-in-kubeconfig", "pass-in-kubeconfig", "oidc-secret", "oidc-token", keyData, "MHcCAQEEIKEYLINEONE", "KEYLINETWO=="}
	tests := []struct {
		name string
		s    Settings
		want []string
	}{
		{name: "nothing", s: Settings{Server: "https://k8s.test"}},
		{name: "token", s: Settings{Token: "tok-1"}, want: []string{"tok-1"}},
		{name: "raw kubeconfig", s: Settings{KubeconfigData: Secret(kubeconfig)}, want: inside},
		{name: "base64 kubeconfig", s: Settings{KubeconfigData: Secret(b64), Token: "tok-1"},
			want: append([]string{"tok-1", b64}, inside...)},
		{name: "wrapped base64 kubeconfig", s: Settings{KubeconfigData: Secret(wrapped)},
			want: append([]string{wrapped}, inside...)},
		{name: "not a kubeconfig", s: Settings{KubeconfigData: "c2VjcmV0"}, want: []string{"c2VjcmV0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.s.MaskValues()
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("MaskValues = %q\nwant %q", got, want)
			}
			for _, v := range got {
				if strings.Contains(v, "apiVersion") {
					t.Errorf("masks the kubeconfig's plain YAML: %q", v)
				}
			}
		})
	}
}
