package logging

import (
	"errors"
	"io"
	"sync/atomic"
	"syscall"
)

// pipeTolerant writes to the log's destination until its reader goes away:
// a CI runner that loses its log stream closes the pipe the step writes to.
// From then on it drops what it is given and reports success, so that a
// lost log never changes the deploy (logrus would otherwise report each
// failed line on stderr, the same dead pipe). Other write errors are
// returned as they are.
type pipeTolerant struct {
	w      io.Writer
	broken atomic.Bool
}

func (p *pipeTolerant) Write(b []byte) (int, error) {
	if p.broken.Load() {
		return len(b), nil
	}
	n, err := p.w.Write(b)
	if errors.Is(err, syscall.EPIPE) {
		p.broken.Store(true)
		return len(b), nil
	}
	return n, err
}
