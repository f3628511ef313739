// Command localcluster runs the local control plane in the foreground until
// it is interrupted: for the demo and for poking at the test bed by hand.
//
//	go run ./hack/localcluster -dir /tmp/kr
//
// It prints the admin kubeconfig's path once the cluster is ready, and
// writes it to <dir>/ready too, so a script can wait for that file.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/kube-release/kube-release/internal/testcluster"
)

func main() {
	dir := flag.String("dir", "", "directory for the cluster's files (default: a new temporary one, removed on exit)")
	nodes := flag.Int("nodes", 2, "number of fake nodes")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *dir != "" {
		if err := os.MkdirAll(*dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "localcluster:", err)
			os.Exit(1)
		}
	}
	c, err := testcluster.Start(ctx, testcluster.Options{Dir: *dir, Nodes: *nodes, Log: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
	fmt.Println(c.Kubeconfig)
	if *dir != "" {
		if err := os.WriteFile(filepath.Join(*dir, "ready"), []byte(c.Kubeconfig+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "localcluster:", err)
		}
	}
	<-ctx.Done()
	if *dir != "" {
		os.Remove(filepath.Join(*dir, "ready"))
	}
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}
