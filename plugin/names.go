package plugin

import (
	"regexp"
	"strings"
)

// settingName matches a setting's environment name in a message.
var settingName = regexp.MustCompile(`\bPLUGIN_[A-Z0-9_]+\b`)

// AsInputs rewrites the settings' environment names in msg as a GitHub
// workflow spells them, the input ids of action.yml (PLUGIN_RELEASE is
// release), so that an error names what the user wrote under with:.
// Names of no setting stay as they are.
func AsInputs(msg string) string {
	known := make(map[string]bool)
	for _, f := range settingFields() {
		known[f.env] = true
	}
	return settingName.ReplaceAllStringFunc(msg, func(name string) string {
		if !known[name] {
			return name
		}
		return strings.ToLower(strings.TrimPrefix(name, settingPrefix))
	})
}
