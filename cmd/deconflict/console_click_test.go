package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/deconflict/deconflict/console"
)

// TestConsoleClickAcrossEvent presses the mouse on a button of the
// operation's detail, lets a live event arrive that changes nothing the
// detail shows, then releases: the click must take effect. The browser
// fires a click only when the button pressed is the button released; a
// console that rebuilt the detail on every event lost such clicks (a user
// whose click straddled an event saw nothing happen).
func TestConsoleClickAcrossEvent(t *testing.T) {
	chrome := chromiumPath(t)
	if !console.Built() {
		t.Fatal("the console is not built into this binary: run scripts/build-console first")
	}
	d := startDemo(t)
	oliveOperator := d.tokens["olive operator"]

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	olive := &tab{t: t, ctx: browser, name: "olive operator"}
	olive.do("open the sign-in link", chromedp.Navigate(d.base+"/#token="+oliveOperator))
	olive.waitFor("the console to load", `document.body.dataset.ready === 'true' && document.getElementById('live').dataset.status === 'live'`, 15*time.Second)
	olive.do("show the operations", chromedp.Click(chromedp.ID("tab-operations")))
	olive.openOperation("OLIVE 51")
	olive.waitFor("the Activate button", `!!document.getElementById('btn-activate')`, 5*time.Second)

	xy := eval[[]float64](olive, `(() => { const r = document.getElementById('btn-activate').getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`)
	mouse := func(what string, typ input.DispatchMouseEventType) {
		t.Helper()
		ctx, cancel := context.WithTimeout(olive.ctx, 15*time.Second)
		defer cancel()
		if _, err := chromedp.Call(ctx, input.DispatchMouseEvent, input.DispatchMouseEventParams{Type: typ, X: xy[0], Y: xy[1], Button: input.MouseButtonLeft, ClickCount: 1}); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	mouse("press on Activate", input.DispatchMouseEventTypeMousePressed)

	// Another operation of olive's, far from OLIVE 51, declared meanwhile:
	// its event reaches the console, which lists it.
	start := time.Now().Add(time.Hour)
	body := decl("planned", circle(31.0, 34.0, 2000, 0, 500, start, start.Add(time.Hour)))
	body["callsign"] = "OLIVE 99"
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	d.api(t, "PUT", "/v1/operations/"+newID(), oliveOperator, string(b))
	olive.waitFor("the event of OLIVE 99", `[...document.querySelectorAll('#op-list [data-op]')].some((b) => b.textContent.includes('OLIVE 99'))`, 10*time.Second)

	mouse("release on Activate", input.DispatchMouseEventTypeMouseReleased)
	olive.waitFor("OLIVE 51 active", `document.querySelector('#op-detail h2')?.textContent === 'OLIVE 51' && document.querySelector('#op-detail .badge.state-active') !== null`, 10*time.Second)
	olive.noProblems()
}
