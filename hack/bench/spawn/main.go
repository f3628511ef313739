// Command spawn runs one command and writes its exit code, wall time and
// rusage as JSON to file descriptor 3. The benchmark starts every measured
// process through it because on Linux a child's peak RSS (ru_maxrss)
// starts from the address space it was forked with, its parent's, until
// exec: measured from the benchmark, which holds a Kubernetes client and
// the audit log, every process would seem at least as large as it. spawn
// is a few MiB.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Report is what spawn writes to file descriptor 3.
type Report struct {
	ExitCode  int   `json:"exitCode"`
	WallNs    int64 `json:"wallNs"`
	UserNs    int64 `json:"userNs"`
	SysNs     int64 `json:"sysNs"`
	MaxRSSKiB int64 `json:"maxRSSKiB"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "spawn:", err)
		os.Exit(125)
	}
}

func run() error {
	if len(os.Args) < 2 {
		return errors.New("usage: spawn command [argument...] 3>report")
	}
	report := os.NewFile(3, "report")
	if report == nil {
		return errors.New("file descriptor 3 is not open")
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// A benchmark that is interrupted kills spawn; the command goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return err
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return errors.New("no rusage: Linux only")
	}
	return json.NewEncoder(report).Encode(Report{
		ExitCode:  cmd.ProcessState.ExitCode(),
		WallNs:    wall.Nanoseconds(),
		UserNs:    ru.Utime.Nano(),
		SysNs:     ru.Stime.Nano(),
		MaxRSSKiB: ru.Maxrss,
	})
}
