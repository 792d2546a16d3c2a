package notify

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// Defaults of the failure log (Options.LogInterval, logBurst).
const (
	DefaultLogInterval = time.Minute
	// logBurst is how many lines about single webhooks are written per
	// interval; the rest are counted in the summary.
	logBurst = 10
)

// failLog writes what operators need to know about failing deliveries in
// a bounded number of lines, however many receivers are down: a line when
// a webhook starts failing and one when it recovers (at most logBurst of
// them per interval), and at the end of an interval in which attempts
// failed one summary line with the counts. Repeated failures of a webhook
// that is already failing write nothing of their own: its state is in
// GET /v1/webhooks.
type failLog struct {
	log      *slog.Logger
	interval time.Duration

	mu         sync.Mutex
	start      time.Time // of the current interval; zero before the first record
	lines      int       // single-webhook lines written in it
	suppressed int       // single-webhook lines not written in it
	failed     int       // failed attempts in it
	hooks      map[hookKey]bool
	classes    map[string]int
}

func newFailLog(log *slog.Logger, interval time.Duration) *failLog {
	return &failLog{log: log, interval: interval, hooks: map[hookKey]bool{}, classes: map[string]int{}}
}

// failedAttempt records a failed attempt; first reports whether the
// webhook was delivering fine until now.
func (l *failLog) failedAttempt(now time.Time, k hookKey, host, class string, retryIn time.Duration, first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rollLocked(now)
	l.failed++
	l.hooks[k] = true
	l.classes[class]++
	if first {
		l.lineLocked(slog.LevelWarn, "webhook failing", "party", k.party, "webhook", k.name, "host", host,
			"error", class, "retry_in", retryIn.Round(time.Millisecond))
	}
}

// recovered records a delivery after failed attempts.
func (l *failLog) recovered(now time.Time, k hookKey, host string, attempts int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rollLocked(now)
	l.lineLocked(slog.LevelInfo, "webhook recovered", "party", k.party, "webhook", k.name, "host", host, "attempts", attempts)
}

// tick ends the interval if it is over, writing its summary.
func (l *failLog) tick(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rollLocked(now)
}

func (l *failLog) lineLocked(level slog.Level, msg string, args ...any) {
	if l.lines >= logBurst {
		l.suppressed++
		return
	}
	l.lines++
	l.log.Log(context.Background(), level, msg, args...)
}

func (l *failLog) rollLocked(now time.Time) {
	if l.start.IsZero() {
		l.start = now
		return
	}
	if now.Sub(l.start) < l.interval {
		return
	}
	if l.failed > 0 || l.suppressed > 0 {
		var byClass []any
		for _, c := range slices.Sorted(maps.Keys(l.classes)) {
			byClass = append(byClass, slog.Int(c, l.classes[c]))
		}
		l.log.Warn("webhook deliveries failing", "failed_attempts", l.failed, "webhooks", len(l.hooks),
			"lines_suppressed", l.suppressed, "interval", now.Sub(l.start).Round(time.Second), slog.Group("by_class", byClass...))
	}
	l.start, l.lines, l.suppressed, l.failed = now, 0, 0, 0
	clear(l.hooks)
	clear(l.classes)
}
