package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/deconflict/deconflict/console"
)

// TestConsoleShowsPeerLinks: the console's header shows each peer node's
// link, and a link silent longer than peer_silence_s as down, in the
// browser.
func TestConsoleShowsPeerLinks(t *testing.T) {
	chrome := chromiumPath(t)
	if !console.Built() {
		t.Fatal("the console is not built into this binary: run scripts/build-console first")
	}
	s := &testServer{t: t, store: testStore(t)}
	s.mustRun("party", "add", "alpha")
	s.mustRun("federation", "init", "--url", "http://127.0.0.1:1")
	// A peer nobody runs: its link never comes up.
	bravo := &testServer{t: t, store: testStore(t)}
	bravo.mustRun("party", "add", "bravo")
	d := strings.TrimSpace(bravo.mustRun("federation", "init", "--url", "http://127.0.0.1:1"))
	s.mustRun("federation", "peer", "add", d)
	s.start()
	admin, liaison := s.token("admin", ""), s.token("liaison", "alpha")
	s.do("PUT", "/v1/settings", admin, map[string]any{"peer_silence_s": 1}).want(t, 200)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &tab{t: t, ctx: browser, name: "alpha liaison"}
	b.do("sign in", chromedp.Navigate(s.base+"/#token="+liaison))
	b.waitFor("bravo's link shown as down", `(document.querySelector('#peers [data-peer="bravo"]')?.textContent ?? '').includes('DOWN')`, 20*time.Second)
	if title := eval[string](b, `document.querySelector('#peers [data-peer="bravo"]').title`); !strings.Contains(title, "override") {
		t.Errorf("the down link's title does not say what to do: %q", title)
	}
	b.noProblems()
}
