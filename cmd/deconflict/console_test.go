package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/deconflict/deconflict/console"
)

// The browser tests drive the real console in headless Chromium (Debian's
// package; nothing is downloaded) against a real server running the demo
// scenario. Set DECONFLICT_SCREENSHOTS=docs/screenshots to also write the
// screenshots of the README.

// chromiumPath finds the browser, or skips the test (fails it in CI, where
// scripts/test installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium binary in PATH: CI must install Debian's chromium package (apt-get install -y chromium)")
	}
	t.Skip("no chromium binary in PATH: apt-get install -y chromium to run the browser tests")
	return ""
}

// demoServer is `deconflict demo` run in process on a loopback port.
type demoServer struct {
	base   string
	tokens map[string]string // "azure liaison" → token
	stderr *syncBuffer
}

func startDemo(t *testing.T) *demoServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan int, 1)
	var stdout, stderr syncBuffer
	m := &Main{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" },
		Ready: func(addr string) { ready <- addr }}
	store := "sqlite:" + t.TempDir() + "/demo.db"
	go func() {
		done <- m.Run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--store", store, "--rate-limit", "0"})
	}()
	d := &demoServer{tokens: map[string]string{}, stderr: &stderr}
	select {
	case addr := <-ready:
		d.base = "http://" + addr
	case code := <-done:
		cancel()
		t.Fatalf("demo exited with %d: %s", code, stderr.String())
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("demo did not start")
	}
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo exited with %d: %s", code, stderr.String())
		}
	})
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if n := len(f); n >= 2 && strings.HasPrefix(f[n-1], "dcf_") && !strings.Contains(sc.Text(), "curl") {
			d.tokens[strings.Join(f[:n-1], " ")] = f[n-1]
		}
	}
	for _, who := range []string{"azure liaison", "olive operator", "admin"} {
		if d.tokens[who] == "" {
			t.Fatalf("demo printed no token for %s:\n%s", who, stdout.String())
		}
	}
	return d
}

// api calls the API of the demo server and returns the body.
func (d *demoServer) api(t *testing.T, method, path, token, body string) string {
	t.Helper()
	req, err := http.NewRequest(method, d.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return string(b)
}

// tab is a browser tab with the steps of the tests as methods.
type tab struct {
	t    *testing.T
	ctx  context.Context
	name string
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
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

// screenshot writes a PNG of the tab into DECONFLICT_SCREENSHOTS, if set.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("DECONFLICT_SCREENSHOTS")
	if dir == "" {
		return
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir) // tests run in cmd/deconflict
	}
	time.Sleep(300 * time.Millisecond) // let the map finish drawing
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// mapBox returns the position and size of the map on the page.
func (b *tab) mapBox() (x, y, w, h float64) {
	r := eval[[]float64](b, `(() => { const r = document.getElementById('map').getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })()`)
	return r[0], r[1], r[2], r[3]
}

func TestConsole(t *testing.T) {
	chrome := chromiumPath(t)
	if !console.Built() {
		t.Fatal("the console is not built into this binary: run scripts/build-console first")
	}
	d := startDemo(t)
	adminTok, azureLiaison, oliveOperator := d.tokens["admin"], d.tokens["azure liaison"], d.tokens["olive operator"]
	// Unanswered duties escalate after a second, so that the banner shows.
	d.api(t, "PUT", "/v1/settings", adminTok, `{"ack_timeout_s": 1}`)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}

	// The console itself: strict headers, and the not-built page is not served.
	resp, err := http.Get(d.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}

	// Azure's duty liaison signs in with the form.
	azure := &tab{t: t, ctx: browser, name: "azure liaison"}
	azure.do("sign in",
		chromedp.Navigate(d.base+"/"),
		chromedp.WaitVisible(chromedp.ID("token-input")),
		chromedp.SendKeys(chromedp.ID("token-input"), azureLiaison),
		chromedp.Click(chromedp.ID("signin-submit")),
	)
	azure.waitFor("the console to load", `document.body.dataset.ready === 'true' && document.getElementById('live').dataset.status === 'live'`, 15*time.Second)
	if got := eval[string](azure, `document.getElementById('whoami').textContent`); got != "azure · liaison" {
		t.Errorf("whoami shows %q, want azure · liaison", got)
	}
	if got := eval[bool](azure, `sessionStorage.getItem('deconflict.token') === `+jsString(azureLiaison)+` && localStorage.length === 0`); !got {
		t.Error("the token is not (only) in sessionStorage")
	}
	if eval[bool](azure, `!document.getElementById('tab-declare').hidden`) {
		t.Error("a liaison is offered the Declare panel")
	}

	// The demo's conflict is on the map, in red, with its separation.
	azure.waitFor("the conflict on the map", `document.querySelectorAll('.conflict-outline').length >= 2 && !!document.querySelector('.conflict-label')`, 10*time.Second)
	label := eval[string](azure, `document.querySelector('.conflict-label').textContent`)
	if !strings.Contains(label, "H 0 m") || !strings.Contains(label, "V −2000 m") {
		t.Errorf("conflict label %q does not show the breached separation", label)
	}
	if n := eval[int](azure, `document.querySelectorAll('path.op').length`); n < 5 {
		t.Errorf("%d operation footprints drawn, want the demo's 5", n)
	}

	// Azure acknowledges the conflict.
	conflictID := eval[string](azure, `document.querySelector('#conflict-list .conflict.status-open').dataset.conflict`)
	azure.do("acknowledge the conflict",
		chromedp.Click(chromedp.ID("tab-conflicts")),
		chromedp.WaitVisible(chromedp.CSS("#conflict-list button.ack-conflict")),
		chromedp.Click(chromedp.CSS("#conflict-list button.ack-conflict")),
	)
	azure.waitFor("the acknowledgement", `document.querySelector('#conflict-list button.ack-conflict')?.disabled === true`, 10*time.Second)
	if got := d.api(t, "GET", "/v1/conflicts/"+conflictID, azureLiaison, ""); !strings.Contains(got, `"acknowledged":{"azure":"`) {
		t.Errorf("conflict not acknowledged by azure: %s", got)
	}
	azure.screenshot("console-conflicts.png")

	// Olive's operator signs in with a link; the token leaves the address bar.
	oliveCtx, cancelOlive := chromedp.NewContext(browser)
	defer cancelOlive()
	if err := chromedp.Do(oliveCtx); err != nil { // opens the tab for the life of oliveCtx
		t.Fatalf("open a second tab: %v", err)
	}
	olive := &tab{t: t, ctx: oliveCtx, name: "olive operator"}
	olive.do("open the sign-in link", chromedp.Navigate(d.base+"/#token="+oliveOperator))
	olive.waitFor("the console to load", `document.body.dataset.ready === 'true' && document.getElementById('live').dataset.status === 'live'`, 15*time.Second)
	if href := eval[string](olive, `location.href`); strings.Contains(href, "token") || strings.Contains(href, "dcf_") {
		t.Errorf("the token stayed in the address bar: %s", href)
	}
	if hist := eval[int](olive, `history.length`); hist > 2 {
		t.Errorf("history has %d entries", hist)
	}

	// Olive draws a polygon on the map, sees the what-if, and declares it.
	olive.do("open the declaration form",
		chromedp.Click(chromedp.ID("tab-declare")),
		chromedp.WaitVisible(chromedp.ID("d-draw")),
		chromedp.Click(chromedp.ID("d-draw")),
	)
	x, y, w, h := olive.mapBox()
	for _, p := range [][2]float64{{0.15, 0.55}, {0.30, 0.55}, {0.30, 0.75}, {0.15, 0.75}} {
		olive.do("click a vertex", chromedp.MouseClickXY(x+p[0]*w, y+p[1]*h))
	}
	olive.do("finish the polygon and name it",
		chromedp.Click(chromedp.ID("d-draw")),
		chromedp.SendKeys(chromedp.ID("d-callsign"), "OLIVE 77"),
	)
	if got := eval[int](olive, `document.getElementById('d-vertices').value.trim().split('\n').length`); got != 4 {
		t.Fatalf("the drawn polygon has %d vertices, want 4", got)
	}
	olive.waitFor("the what-if answer", `!!document.querySelector('#d-check .ok, #d-check .warn')`, 10*time.Second)
	olive.do("show the what-if", chromedp.Evaluate[chromedp.Void](`document.getElementById('d-check').scrollIntoView({block: 'center'})`))
	olive.screenshot("console-declare.png")
	before := eval[int](azure, `document.querySelectorAll('#op-list [data-op]').length`)
	olive.do("declare", chromedp.Click(chromedp.ID("d-declare")))
	olive.waitFor("the declaration", `[...document.querySelectorAll('#op-list [data-op]')].some((b) => b.textContent.includes('OLIVE 77'))`, 10*time.Second)
	declared := time.Now()

	// It appears in Azure's console, live, without a reload.
	azure.waitFor("olive's declaration in the other console", `[...document.querySelectorAll('#op-list [data-op]')].some((b) => b.textContent.includes('OLIVE 77'))`, 5*time.Second)
	if lag := time.Since(declared); lag > 2*time.Second {
		t.Errorf("the declaration took %v to reach the other console, want about a second", lag)
	} else {
		t.Logf("the declaration reached the other console %v after the declaring one showed it", lag.Round(time.Millisecond))
	}
	if after := eval[int](azure, `document.querySelectorAll('#op-list [data-op]').length`); after != before+1 {
		t.Errorf("azure lists %d operations, want %d", after, before+1)
	}

	// Unacknowledged past the timeout (a second here), the declaration is
	// escalated: the banner shows it until azure acknowledges.
	azure.waitFor("the escalation banner", `[...document.querySelectorAll('#banner li')].some((li) => li.dataset.escalation.startsWith('operation:'))`, 10*time.Second)
	azure.do("show the map", chromedp.Click(chromedp.ID("tab-operations")))
	// The time slider: in 3½ hours AZURE 11, OLIVE 31, 41, 51 and 77 fly.
	azure.do("move the time slider", chromedp.Evaluate[chromedp.Void](`(() => {
		const s = document.getElementById('time-slider');
		const a = Date.parse(s.dataset.start), b = Date.parse(s.dataset.end);
		s.value = String(Math.round(1000 * (Date.now() + 3.5 * 3600e3 - a) / (b - a)));
		s.dispatchEvent(new Event('input'));
	})()`))
	if got := eval[string](azure, `document.getElementById('live-count').textContent`); got != "5 live" {
		t.Errorf("at the chosen time the timeline counts %q, want 5 live", got)
	}
	azure.screenshot("console-map.png")

	// The hotline: azure sends an urgent message; olive sees it live.
	azure.do("send a hotline message",
		chromedp.Click(chromedp.ID("tab-hotline")),
		chromedp.WaitVisible(chromedp.ID("msg-text")),
		chromedp.SendKeys(chromedp.ID("msg-text"), "AZURE 11 will hold south of 33.3N"),
		chromedp.SetValue(chromedp.ID("msg-urgency"), "urgent"),
		chromedp.Click(chromedp.ID("msg-send")),
	)
	olive.waitFor("the hotline message", `[...document.querySelectorAll('#threads .message')].some((m) => m.textContent.includes('hold south of 33.3N') && m.textContent.includes('URGENT'))`, 5*time.Second)
	azure.waitFor("the sent message", `!!document.querySelector('#threads .message.outgoing')`, 5*time.Second)
	azure.screenshot("console-hotline.png")

	// The evidence button downloads the bundle of the selected operation.
	azure.do("select OLIVE 77", chromedp.Click(chromedp.ID("tab-operations")))
	azure.do("open OLIVE 77", chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('#op-list [data-op]')].find((b) => b.textContent.includes('OLIVE 77')).click()`))
	azure.waitFor("the detail of OLIVE 77", `!!document.getElementById('btn-evidence') && !!document.getElementById('btn-ack-op')`, 5*time.Second)
	azure.do("acknowledge OLIVE 77", chromedp.Click(chromedp.ID("btn-ack-op")))
	azure.waitFor("the receipt", `document.getElementById('btn-ack-op')?.disabled === true`, 5*time.Second)
	azure.waitFor("the banner to clear", `![...document.querySelectorAll('#banner li')].some((li) => li.dataset.escalation.startsWith('operation:'))`, 5*time.Second)
	azure.do("download the evidence", chromedp.Evaluate[chromedp.Void](`(() => {
		window.__downloads = [];
		const create = URL.createObjectURL;
		URL.createObjectURL = (blob) => { blob.text().then((t) => window.__downloads.push(t)); return create(blob); };
		const click = HTMLAnchorElement.prototype.click;
		HTMLAnchorElement.prototype.click = function () { if (this.download) { window.__downloads.unshift(this.download); return; } return click.call(this); };
		document.getElementById('btn-evidence').click();
	})()`))
	azure.waitFor("the evidence bundle", `(window.__downloads ?? []).length === 2`, 10*time.Second)
	bundle := eval[[]string](azure, `window.__downloads`)
	if !strings.HasPrefix(bundle[0], "evidence-OLIVE_77-") || !strings.Contains(bundle[1], "checkpoint") {
		t.Errorf("evidence download %q: %.200s", bundle[0], bundle[1])
	}

	// A tablet in portrait: the panels go under the map.
	olive.do("tablet", chromedp.EmulateViewport(820, 1180), chromedp.Click(chromedp.ID("tab-operations")))
	_, _, tw, th := olive.mapBox()
	if tw < 700 || th < 300 {
		t.Errorf("on a tablet the map is %.0f×%.0f", tw, th)
	}
	olive.screenshot("console-tablet.png")

	azure.noProblems()
	olive.noProblems()
	if strings.Contains(d.stderr.String(), azureLiaison) || strings.Contains(d.stderr.String(), oliveOperator) {
		t.Error("a token appears in the server's log")
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string { return fmt.Sprintf("%q", s) }
