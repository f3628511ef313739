package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// delayProxy forwards TCP connections to the API server, holding every
// chunk of data back for half the round-trip time in each direction: the
// network between a CI runner and a remote cluster, which a loopback
// cluster does not have. TLS passes through untouched.
type delayProxy struct {
	listener net.Listener
	target   string
	delay    time.Duration // one way
	wg       sync.WaitGroup
}

// startDelayProxy listens on loopback and forwards to target (host:port).
func startDelayProxy(target string, rtt time.Duration) (*delayProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &delayProxy{listener: l, target: target, delay: rtt / 2}
	p.wg.Go(p.serve)
	return p, nil
}

func (p *delayProxy) addr() string { return p.listener.Addr().String() }

func (p *delayProxy) close() {
	p.listener.Close()
	p.wg.Wait()
}

func (p *delayProxy) serve() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.forward(client) })
	}
}

func (p *delayProxy) forward(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(server, client) })
	wg.Go(func() { p.pipe(client, server) })
	wg.Wait()
}

// pipe copies src to dst through a delay line: each chunk is written
// delay after it was read, without holding up the chunks behind it.
func (p *delayProxy) pipe(dst, src net.Conn) {
	type chunk struct {
		due  time.Time
		data []byte
	}
	line := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range line {
			time.Sleep(time.Until(c.due))
			if _, err := dst.Write(c.data); err != nil {
				break
			}
		}
		// Closing both ends wakes the other direction's reader too.
		dst.Close()
		src.Close()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			line <- chunk{due: time.Now().Add(p.delay), data: append([]byte(nil), buf[:n]...)}
		}
		if err != nil {
			break
		}
	}
	close(line)
	<-done
}

// withRTT makes the measured tools reach the API server through a delay
// proxy: their kubeconfig names the proxy instead. The bench's own client
// keeps the direct connection.
func (b *bench) withRTT(ctx context.Context, rtt time.Duration) (func(), error) {
	cfg, err := clientcmd.LoadFromFile(b.kubeconfig)
	if err != nil {
		return nil, err
	}
	cluster := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
	if cluster == nil {
		return nil, errors.New("the kubeconfig's current context names no cluster")
	}
	server, err := url.Parse(cluster.Server)
	if err != nil {
		return nil, err
	}
	proxy, err := startDelayProxy(server.Host, rtt)
	if err != nil {
		return nil, err
	}
	// The serving certificate is for 127.0.0.1 and says nothing of the
	// port, so it verifies through the proxy as well.
	cluster.Server = "https://" + proxy.addr()
	path := filepath.Join(b.work, fmt.Sprintf("kubeconfig-rtt-%s", rtt))
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		proxy.close()
		return nil, err
	}
	b.kubeconfig = path
	fmt.Fprintf(b.progress, "tools reach the API server through a proxy adding %s of round-trip time\n", rtt)
	return proxy.close, nil
}
