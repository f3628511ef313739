package steps

import (
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kube-release/kube-release/internal/rollout"
)

// progressPrinter logs the waiter's progress the way a person reads a CI
// log: a line when a workload's state changes, and the unchanged ones again
// every interval so a long wait never looks hung.
type progressPrinter struct {
	log      logrus.FieldLogger
	interval time.Duration
	last     map[string]printed
}

type printed struct {
	line string
	at   time.Duration
}

func newProgressPrinter(log logrus.FieldLogger) *progressPrinter {
	return &progressPrinter{log: log, interval: rollout.DefaultProgressInterval, last: map[string]printed{}}
}

func (p *progressPrinter) print(pr rollout.Progress) {
	for _, w := range pr.Workloads {
		key := w.Workload.String()
		lines := w.Lines()
		if len(lines) == 0 {
			continue
		}
		summary := lines[0]
		for _, l := range lines[1:] {
			summary += "\n" + l
		}
		prev, seen := p.last[key]
		if seen && prev.line == summary && pr.Elapsed-prev.at < p.interval {
			continue
		}
		p.last[key] = printed{line: summary, at: pr.Elapsed}
		for _, l := range lines {
			p.log.Info(l)
		}
	}
}
