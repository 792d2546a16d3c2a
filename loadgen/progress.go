package loadgen

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Progress shows how far a run has got: a bar redrawn in place when its
// output is a terminal, otherwise a line every Every.
type Progress struct {
	out      io.Writer
	terminal bool
	every    time.Duration
	label    string
	total    int64
	done     atomic.Int64
	failed   atomic.Int64
	start    time.Time
	stop     chan struct{}
	wg       sync.WaitGroup
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// StartProgress starts showing the progress of total steps named label on
// out. every is the interval of plain lines (a terminal is redrawn five
// times a second). A nil out shows nothing.
func StartProgress(out io.Writer, label string, total int, every time.Duration) *Progress {
	p := &Progress{out: out, terminal: IsTerminal(out), every: every, label: label, total: int64(total),
		start: time.Now(), stop: make(chan struct{})}
	if out == nil {
		return p
	}
	tick := every
	if p.terminal {
		tick = 200 * time.Millisecond
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.show(false)
			}
		}
	}()
	return p
}

// Add counts n steps done, failed of which failed.
func (p *Progress) Add(n, failed int) {
	p.done.Add(int64(n))
	p.failed.Add(int64(failed))
}

// Done stops the display and shows the final state.
func (p *Progress) Done() {
	if p.out == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.show(true)
}

func (p *Progress) show(final bool) {
	done, failed := p.done.Load(), p.failed.Load()
	el := time.Since(p.start)
	r := float64(done) / max(el.Seconds(), 1e-9)
	frac := 0.0
	if p.total > 0 {
		frac = float64(done) / float64(p.total)
	}
	eta := "-"
	if r > 0 && done < p.total {
		eta = time.Duration(float64(p.total-done) / r * float64(time.Second)).Round(time.Second).String()
	}
	status := fmt.Sprintf("%s %d/%d (%3.0f%%) %.0f/s failed %d elapsed %s eta %s",
		p.label, done, p.total, 100*frac, r, failed, el.Round(time.Second), eta)
	if !p.terminal {
		fmt.Fprintln(p.out, status)
		return
	}
	const width = 30
	n := int(frac * width)
	bar := strings.Repeat("#", n) + strings.Repeat(".", width-n)
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.out, "\r[%s] %s\x1b[K%s", bar, status, end)
}
