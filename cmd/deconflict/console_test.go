package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
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
	var stdout, stderr syncBuffer
	store := "sqlite:" + t.TempDir() + "/demo.db"
	addr, stop := serveInProcess(t, []string{"demo", "--listen", "127.0.0.1:0", "--store", store, "--rate-limit", "0"}, &stdout, &stderr)
	d := &demoServer{base: "http://" + addr, tokens: map[string]string{}, stderr: &stderr}
	t.Cleanup(func() {
		if code := stop(); code != 0 {
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
	for _, who := range []string{"azure liaison", "olive operator", "azure head", "olive head", "admin"} {
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

// operationID finds the id of a live operation by its callsign.
func (d *demoServer) operationID(t *testing.T, token, callsign string) string {
	t.Helper()
	var page struct {
		Operations []struct {
			ID       string  `json:"id"`
			Callsign *string `json:"callsign"`
		} `json:"operations"`
	}
	if err := json.Unmarshal([]byte(d.api(t, "GET", "/v1/operations", token, "")), &page); err != nil {
		t.Fatal(err)
	}
	for _, op := range page.Operations {
		if op.Callsign != nil && *op.Callsign == callsign {
			return op.ID
		}
	}
	t.Fatalf("no live operation %s", callsign)
	return ""
}

// lastSeq reads the sequence number of the latest event: the size of the
// log in its checkpoint.
func (d *demoServer) lastSeq(t *testing.T, token string) int64 {
	t.Helper()
	lines := strings.Split(d.api(t, "GET", "/v1/log/checkpoint", token, ""), "\n")
	if len(lines) < 2 {
		t.Fatalf("checkpoint %q", lines)
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		t.Fatalf("checkpoint size %q: %v", lines[1], err)
	}
	return n
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
		chromedp.Env("TZ=America/New_York"), // the console must show and read times as UTC all the same
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
	seqBefore := d.lastSeq(t, azureLiaison)
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
	// The page loaded the state from the lists and follows the stream from
	// the latest event, rather than replaying the history; the event log
	// still shows the recent events.
	if from, err := strconv.ParseInt(eval[string](azure, `document.body.dataset.streamFrom`), 10, 64); err != nil || from < seqBefore || seqBefore == 0 {
		t.Errorf("the stream is followed from %d (%v), want the latest event (%d or later)", from, err, seqBefore)
	}
	if n := eval[int](azure, `document.querySelectorAll('#event-list li').length`); n == 0 {
		t.Error("the event log shows no recent event")
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
	olive.do("finish the polygon", chromedp.Click(chromedp.ID("d-draw")))
	olive.do("name it", chromedp.Clear(chromedp.ID("d-callsign")), chromedp.SendKeys(chromedp.ID("d-callsign"), "OLIVE 77"))
	// The times are UTC, said so, and read as UTC though the browser runs in
	// New York: typed, then moved by 15 minutes with the arrow key.
	start := time.Now().UTC().Add(2 * time.Hour).Truncate(15 * time.Minute)
	end := start.Add(3 * time.Hour)
	if got := eval[[]string](olive, `['d-start', 'd-end'].map((id) => document.querySelector('label[for="' + id + '"]').textContent + ' ' + document.getElementById(id).value)`); !strings.Contains(got[0], "UTC") || !strings.HasSuffix(got[0], "Z") || !strings.Contains(got[1], "UTC") {
		t.Errorf("the time fields do not say they are UTC: %q", got)
	}
	if tz := eval[int](olive, `new Date(2026, 0, 1).getTimezoneOffset()`); tz == 0 {
		t.Error("the browser runs in UTC: the test does not show that times are read as UTC")
	}
	olive.do("type the times",
		chromedp.Clear(chromedp.ID("d-start")),
		chromedp.SendKeys(chromedp.ID("d-start"), start.Add(-15*time.Minute).Format("2006-01-02 15:04")+"Z"+kb.ArrowUp),
		chromedp.Clear(chromedp.ID("d-end")),
		chromedp.SendKeys(chromedp.ID("d-end"), end.Format("2006-01-02T15:04")+"\t"),
	)
	if got := eval[[]string](olive, `['d-start', 'd-end', 'd-start-note'].map((id) => document.getElementById(id).value ?? document.getElementById(id).textContent)`); got[0] != start.Format("2006-01-02 15:04Z") || got[1] != end.Format("2006-01-02 15:04Z") {
		t.Errorf("the time fields read %q, want %s and %s", got, start.Format("2006-01-02 15:04Z"), end.Format("2006-01-02 15:04Z"))
	}
	if note := eval[string](olive, `document.getElementById('d-start-note').textContent`); !strings.Contains(note, start.Format("15:04Z")) || !strings.Contains(note, "in ") {
		t.Errorf("the note under the start reads %q", note)
	}
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
	if got := d.api(t, "GET", "/v1/operations/"+d.operationID(t, oliveOperator, "OLIVE 77"), oliveOperator, ""); !strings.Contains(got, `"time_start":{"value":"`+start.Format(time.RFC3339)+`"`) || !strings.Contains(got, `"time_end":{"value":"`+end.Format(time.RFC3339)+`"`) {
		t.Errorf("OLIVE 77 was not declared from %s to %s (UTC): %.600s", start.Format(time.RFC3339), end.Format(time.RFC3339), got)
	}

	// It appears in Azure's console, live, without a reload.
	azure.waitFor("olive's declaration in the other console", `[...document.querySelectorAll('#op-list [data-op]')].some((b) => b.textContent.includes('OLIVE 77'))`, 10*time.Second)
	t.Logf("the declaration reached the other console %v after the declaring one showed it", time.Since(declared).Round(time.Millisecond))
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
	olive.do("back to the desktop", chromedp.EmulateViewport(1280, 800))

	// Olive's operator tries to activate OLIVE 31 while it is in conflict
	// with AZURE 11: refused (409 conflict_unresolved), and the detail says
	// with what and what is missing.
	olive31, azure11 := d.operationID(t, oliveOperator, "OLIVE 31"), d.operationID(t, oliveOperator, "AZURE 11")
	olive.acceptDialogs()
	olive.do("show the operations", chromedp.Click(chromedp.ID("tab-operations")))
	olive.openOperation("OLIVE 31")
	olive.do("activate OLIVE 31", chromedp.Click(chromedp.ID("btn-activate")))
	olive.waitFor("the refusal", `!!document.getElementById('op-refusal')`, 10*time.Second)
	refusal := eval[string](olive, `document.getElementById('op-refusal').textContent`)
	t.Logf("the refusal reads: %s", refusal)
	if !strings.Contains(refusal, "AZURE 11") || !strings.Contains(refusal, "waived") {
		t.Errorf("the refusal to activate does not name the conflicting operation and the way out: %q", refusal)
	}
	if toast := eval[string](olive, `document.getElementById('toast').textContent`); !strings.Contains(toast, "AZURE 11") {
		t.Errorf("the error toast does not name the conflicting operation: %q", toast)
	}
	if got := d.api(t, "GET", "/v1/operations/"+olive31, oliveOperator, ""); !strings.Contains(got, `"state":"planned"`) {
		t.Errorf("OLIVE 31 changed though its activation was refused: %.300s", got)
	}

	// The heads of both parties waive the conflict from their consoles.
	for _, head := range []string{"azure head", "olive head"} {
		ctx, cancel := chromedp.NewContext(browser)
		defer cancel()
		if err := chromedp.Do(ctx); err != nil {
			t.Fatalf("open a tab for the %s: %v", head, err)
		}
		b := &tab{t: t, ctx: ctx, name: head}
		b.acceptDialogs()
		sel := `#conflict-list .conflict[data-conflict="` + conflictID + `"] button.waive-conflict`
		if head == "azure head" {
			// Azure's head uses the keyboard only: Tab reaches the sign-in
			// form (and nothing behind it), Enter signs in, the arrow key
			// moves to the Conflicts tab, Space waives. Focus is visible.
			b.do("open the console", chromedp.Navigate(d.base+"/"), chromedp.WaitVisible(chromedp.ID("token-input")),
				chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`))
			var path []string
			for i := 0; i < 4 && (len(path) == 0 || path[len(path)-1] != "token-input"); i++ {
				b.do("press Tab", chromedp.KeyEvent(kb.Tab))
				path = append(path, eval[string](b, `document.activeElement.id || document.activeElement.tagName`))
			}
			if path[len(path)-1] != "token-input" {
				t.Fatalf("Tab went through %q, not to the token field", path)
			}
			b.focusVisible("the token field")
			b.do("sign in by keyboard", chromedp.KeyEvent(d.tokens[head]+"\r"))
			b.waitFor("the console to load", `document.body.dataset.ready === 'true' && document.getElementById('live').dataset.status === 'live'`, 15*time.Second)
			b.do("reach the tabs", chromedp.Focus(chromedp.ID("tab-operations")), chromedp.KeyEvent(kb.ArrowRight))
			b.waitFor("the Conflicts tab", `document.activeElement.id === 'tab-conflicts' && document.activeElement.getAttribute('aria-selected') === 'true' && !document.getElementById('panel-conflicts').hidden`, 5*time.Second)
			b.focusVisible("the Conflicts tab")
			b.do("waive by keyboard", chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Focus(chromedp.CSS(sel)), chromedp.KeyEvent(" "))
		} else {
			b.do("open the sign-in link", chromedp.Navigate(d.base+"/#token="+d.tokens[head]))
			b.waitFor("the console to load", `document.body.dataset.ready === 'true' && document.getElementById('live').dataset.status === 'live'`, 15*time.Second)
			b.do("waive the conflict",
				chromedp.Click(chromedp.ID("tab-conflicts")),
				chromedp.WaitVisible(chromedp.CSS(sel)),
				chromedp.Click(chromedp.CSS(sel)),
			)
		}
		party := strings.Fields(head)[0]
		b.waitFor("the waiver", `(() => { const c = document.querySelector('#conflict-list .conflict[data-conflict="`+conflictID+`"]');
			return !c || c.querySelector('button.waive-conflict')?.disabled === true; })()`, 10*time.Second)
		if got := b.dialogs(); len(got) != 1 || !strings.Contains(got[0], "Waive") {
			t.Errorf("%s: the waiver asked %q, want one confirmation", head, got)
		}
		if got := d.api(t, "GET", "/v1/conflicts/"+conflictID, adminTok, ""); !strings.Contains(got, `"`+party+`":"`) || !strings.Contains(got, `"waived":{`) {
			t.Errorf("the conflict is not waived by %s: %s", party, got)
		}
		b.noProblems()
	}
	if got := d.api(t, "GET", "/v1/conflicts/"+conflictID, adminTok, ""); !strings.Contains(got, `"status":"waived"`) {
		t.Errorf("waived by both heads, the conflict is not waived: %s", got)
	}

	// Now the operator activates OLIVE 31, then ends it.
	olive.waitFor("the waiver to reach olive's console", `!document.getElementById('op-refusal') && !document.querySelector('#op-detail .detail-conflicts')`, 10*time.Second)
	olive.do("activate OLIVE 31", chromedp.Click(chromedp.ID("btn-activate")))
	olive.waitFor("OLIVE 31 active", `!!document.getElementById('btn-end') && document.querySelector('#op-detail .badge.state-active') !== null`, 10*time.Second)
	if got := d.api(t, "GET", "/v1/operations/"+olive31, oliveOperator, ""); !strings.Contains(got, `"state":"active"`) {
		t.Errorf("OLIVE 31 is not active: %.300s", got)
	}
	olive.do("end OLIVE 31", chromedp.Click(chromedp.ID("btn-end")))
	olive.waitFor("OLIVE 31 to leave the list", `![...document.querySelectorAll('#op-list [data-op]')].some((b) => b.textContent.includes('OLIVE 31'))`, 10*time.Second)
	if got := d.api(t, "GET", "/v1/operations/"+olive31, oliveOperator, ""); !strings.Contains(got, `"state":"ended"`) {
		t.Errorf("OLIVE 31 is not ended: %.300s", got)
	}
	if got := d.api(t, "GET", "/v1/operations/"+azure11, oliveOperator, ""); !strings.Contains(got, `"state":"planned"`) {
		t.Errorf("AZURE 11 changed: %.300s", got)
	}

	// And cancels OLIVE 77, after confirming.
	olive77 := d.operationID(t, oliveOperator, "OLIVE 77")
	olive.openOperation("OLIVE 77")
	olive.do("cancel OLIVE 77", chromedp.Click(chromedp.ID("btn-cancel")))
	olive.waitFor("OLIVE 77 to leave the list", `![...document.querySelectorAll('#op-list [data-op]')].some((b) => b.textContent.includes('OLIVE 77'))`, 10*time.Second)
	if got := olive.dialogs(); len(got) != 1 || !strings.Contains(got[0], "Cancel OLIVE 77") {
		t.Errorf("the cancellation asked %q, want one confirmation", got)
	}
	if got := d.api(t, "GET", "/v1/operations/"+olive77, oliveOperator, ""); !strings.Contains(got, `"state":"cancelled"`) {
		t.Errorf("OLIVE 77 is not cancelled: %.300s", got)
	}

	azure.noProblems()
	olive.noProblems()
	if strings.Contains(d.stderr.String(), azureLiaison) || strings.Contains(d.stderr.String(), oliveOperator) {
		t.Error("a token appears in the server's log")
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string { return fmt.Sprintf("%q", s) }
