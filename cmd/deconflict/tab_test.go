package main

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// tab is a browser tab with the steps of the tests as methods.
type tab struct {
	t    *testing.T
	ctx  context.Context
	name string

	mu    sync.Mutex
	asked []string // messages of the dialogs accepted (acceptDialogs)
}

// do runs the steps of one thing a user does, failing the test with
// diagnostics if they fail.
//
// The console re-renders its lists and panels when live events arrive, so
// a node found by one step can be replaced before the next step acts on
// it; Chromium then answers "Could not find node with given id" and
// nothing happened. do runs the steps again then, a few times: every call
// of do must be safe to repeat from its start (tab clicks, waits, and one
// final action).
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
		err := chromedp.Do(ctx, steps...)
		cancel()
		if err == nil {
			return
		}
		if attempt < 4 && strings.Contains(err.Error(), "Could not find node with given id") {
			b.t.Logf("%s: %s: a node was re-rendered under the step; again", b.name, what)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		b.t.Fatalf("%s: %s: %v\ndiagnostics: %s", b.name, what, err, b.diagnostics())
	}
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: evaluate %s: %v", b.name, expr, err)
	}
	return v
}

// waitFor waits until a JavaScript predicate holds.
func (b *tab) waitFor(what, predicate string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(25*time.Millisecond))); err != nil {
		b.t.Fatalf("%s: waiting for %s: %v\ndiagnostics: %s", b.name, what, err, b.diagnostics())
	}
}

func (b *tab) diagnostics() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({href: location.href, ready: document.body.dataset.ready,
		live: document.getElementById('live')?.dataset.status, signin: !document.getElementById('signin')?.hidden,
		problems: window.deconflictDiagnostics})`))
	if err != nil {
		return err.Error()
	}
	return v
}

// noProblems fails the test if the page met a script error or a
// Content-Security-Policy violation.
func (b *tab) noProblems() {
	b.t.Helper()
	if got := eval[[]string](b, `window.deconflictDiagnostics ?? []`); len(got) > 0 {
		b.t.Errorf("%s: the page reported problems: %q", b.name, got)
	}
}

// acceptDialogs accepts every JavaScript dialog (confirm) the page opens
// from now on, and keeps their messages for dialogs.
func (b *tab) acceptDialogs() {
	b.t.Helper()
	if err := chromedp.Listen(b.ctx, func(ev any) {
		e, ok := ev.(*page.EventJavascriptDialogOpening)
		if !ok {
			return
		}
		b.mu.Lock()
		b.asked = append(b.asked, e.Message)
		b.mu.Unlock()
		go func() { // not from the listener: it must not run commands
			_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}()
	}); err != nil {
		b.t.Fatalf("%s: listen for dialogs: %v", b.name, err)
	}
}

// dialogs returns the messages of the dialogs accepted since the last call.
func (b *tab) dialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	got := b.asked
	b.asked = nil
	return got
}

// focusVisible fails the test unless the focused element shows a focus
// ring (an outline of 2 px or more).
func (b *tab) focusVisible(what string) {
	b.t.Helper()
	got := eval[string](b, `(() => { const s = getComputedStyle(document.activeElement); return s.outlineStyle + ' ' + s.outlineWidth + ' ' + document.activeElement.matches(':focus-visible'); })()`)
	f := strings.Fields(got)
	if w, _ := strconv.ParseFloat(strings.TrimSuffix(f[1], "px"), 64); f[0] == "none" || w < 2 || f[2] != "true" {
		b.t.Errorf("%s: %s shows no focus ring (outline %s)", b.name, what, got)
	}
}

// openOperation selects an operation by callsign in the Operations panel.
func (b *tab) openOperation(callsign string) {
	b.t.Helper()
	b.do("open "+callsign, chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('#op-list [data-op]')].find((b) => b.textContent.includes(`+jsString(callsign)+`)).click()`))
	b.waitFor("the detail of "+callsign, `document.querySelector('#op-detail h2')?.textContent === `+jsString(callsign), 5*time.Second)
}

// mapBox returns the position and size of the map on the page.
func (b *tab) mapBox() (x, y, w, h float64) {
	r := eval[[]float64](b, `(() => { const r = document.getElementById('map').getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })()`)
	return r[0], r[1], r[2], r[3]
}
