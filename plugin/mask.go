package plugin

import (
	"encoding/base64"
	"slices"
	"strings"
)

// MaskValues returns the secret values of the settings in every form in
// which a log of this job could show them, for a CI system that can hide
// them (logging.Mask): each secret setting, and for kubeconfig_data its
// base64 text and the credentials inside it (tokens, passwords, client
// keys). The kubeconfig's plain YAML is not masked whole: the runner masks
// a line at a time, and hiding every "apiVersion: v1" would garble the
// logs of every later step for no gain.
func (s *Settings) MaskValues() []string {
	var values []string
	for _, f := range settingFields() {
		if !f.secret || f.env == envKubeconfigData {
			continue
		}
		values = append(values, f.value(s).String())
	}
	values = append(values, kubeconfigMaskValues(s.KubeconfigData)...)
	return slices.DeleteFunc(values, func(v string) bool { return strings.TrimSpace(v) == "" })
}

func kubeconfigMaskValues(data Secret) []string {
	raw := strings.TrimSpace(string(data))
	if raw == "" {
		return nil
	}
	var values []string
	if decoded := decodeKubeconfigData(raw); string(decoded) != raw {
		// Base64: the text itself is as secret as what it encodes.
		values = append(values, raw)
	}
	cfg, err := parseKubeconfigData(data)
	if err != nil {
		return values
	}
	for _, user := range cfg.AuthInfos {
		values = append(values, user.Token, user.Password)
		if len(user.ClientKeyData) > 0 {
			// As the kubeconfig holds it, and the PEM lines it encodes.
			values = append(values, base64.StdEncoding.EncodeToString(user.ClientKeyData))
			for _, line := range strings.Split(string(user.ClientKeyData), "\n") {
				if !strings.HasPrefix(line, "-----") {
					values = append(values, line)
				}
			}
		}
		if user.AuthProvider != nil {
			for key, value := range user.AuthProvider.Config {
				key = strings.ToLower(key)
				if strings.Contains(key, "token") || strings.Contains(key, "secret") {
					values = append(values, value)
				}
			}
		}
	}
	return values
}

// MaskValuesFrom is MaskValues of the secret settings in environ as they
// are, whether or not the settings load: the masks must be out before the
// first line that could fail, and a kubeconfig_data that does not parse is
// still masked as the text it is.
func MaskValuesFrom(environ []string) []string {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if key, value, ok := strings.Cut(kv, "="); ok {
			env[key] = value
		}
	}
	var s Settings
	for _, f := range settingFields() {
		if f.secret {
			f.value(&s).SetString(strings.TrimSpace(env[f.env]))
		}
	}
	return s.MaskValues()
}
