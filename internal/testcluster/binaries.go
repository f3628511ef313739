package testcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BinDirEnv names a directory of prebuilt control-plane binaries to use
// instead of building them.
const BinDirEnv = "KUBE_RELEASE_CLUSTER_BIN"

// Binaries returns the directory holding the control-plane binaries. It runs
// hack/cluster/build.sh, which builds them once into a cache outside the
// repository ($HOME/.cache/kube-release) and afterwards only answers with
// the directory.
func Binaries(ctx context.Context, progress io.Writer) (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return dir, nil
	}
	script, err := findUp(filepath.Join("hack", "cluster", "build.sh"))
	if err != nil {
		return "", err
	}
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stdout = &stdout
	cmd.Stderr = progress
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w", script, err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	return lines[len(lines)-1], nil
}

// findUp looks for rel in the working directory and its parents: tests run
// in their package's directory, the demo in the repository root.
func findUp(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		path := filepath.Join(dir, rel)
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New(rel + " not found in the working directory or above; set " + BinDirEnv)
		}
		dir = parent
	}
}
