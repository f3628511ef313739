package plugin

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
)

// DocsURL is where the README, with every setting and its troubleshooting,
// lives.
const DocsURL = "https://github.com/kube-release/kube-release#readme"

// Help writes what --help prints: the usage, the steps, every setting
// with its default, and the exit codes.
func Help(w io.Writer) error {
	var b strings.Builder
	b.WriteString(`kube-release: a Kubernetes deploy step for CI pipelines.

Usage:
  kube-release [step]      run one step; settings come from PLUGIN_* variables
  kube-release --version   print the version, commit and build date
  kube-release --help      print this help

Steps:
`)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, spec := range stepSpecs() {
		fmt.Fprintf(tw, "  %s\t%s\n", spec.step, spec.summary)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("\nSettings (GitHub Actions: the input without PLUGIN_, in lower case):\n")
	t := reflect.TypeFor[Settings]()
	for _, f := range settingFields() {
		desc := t.Field(f.index).Tag.Get("desc")
		if f.def != "" {
			desc += " [default " + f.def + "]"
		}
		fmt.Fprintf(&b, "  %s\n      %s\n", f.env, desc)
	}
	fmt.Fprintf(&b, `
Exit codes:
  0  the step succeeded (a rollback with nothing to do too)
  1  the step failed: the log and the step summary say why
  2  the settings or the kubeconfig cannot work: nothing was changed
  3  diff with detailed_exitcode: an apply would change something

Documentation: %s
`, DocsURL)
	_, err := io.WriteString(w, b.String())
	return err
}
