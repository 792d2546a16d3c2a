package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/deconflict/deconflict/console"
)

// TestConsoleShowsPeerLinks: the console's header shows each peer node's
// link, and once a peer has been silent longer than peer_silence_s, the
// link as stale and that peer's operations drawn as possibly out of
// date, in the browser.
func TestConsoleShowsPeerLinks(t *testing.T) {
	chrome := chromiumPath(t)
	if !console.Built() {
		t.Fatal("the console is not built into this binary: run scripts/build-console first")
	}
	bin := buildBinary(t)
	alpha, bravo := newFedNode(t, bin, "alpha"), newFedNode(t, bin, "bravo")
	da := strings.TrimSpace(alpha.srv.mustRun("federation", "init", "--url", "http://"+alpha.listen))
	db := strings.TrimSpace(bravo.srv.mustRun("federation", "init", "--url", "http://"+bravo.listen))
	alpha.srv.mustRun("federation", "peer", "add", db)
	bravo.srv.mustRun("federation", "peer", "add", da)
	alpha.start()
	bravo.start()
	admin, liaison := alpha.srv.token("admin", ""), alpha.srv.token("liaison", "alpha")
	alpha.srv.do("PUT", "/v1/settings", admin, map[string]any{"peer_silence_s": 1}).want(t, 200)
	// bravo's operator may not declare on alpha's node; on its own it may.
	body := decl("planned", circle(33.5, 36.3, 5000, 1000, 3000, time.Now().Add(2*time.Hour), time.Now().Add(4*time.Hour)))
	alpha.srv.do("PUT", "/v1/operations/"+newID(), alpha.srv.token("operator", "bravo"), body).want(t, 403, "forbidden")
	bravo.srv.do("PUT", "/v1/operations/"+newID(), bravo.srv.token("operator", "bravo"), body).want(t, 201)
	own := newID()
	opA := alpha.srv.token("operator", "alpha")
	ownBody := decl("planned", circle(10, 10, 2000, 0, 500, time.Now().Add(2*time.Hour), time.Now().Add(3*time.Hour)))
	ownBody["callsign"] = "ALPHA1"
	alpha.srv.do("PUT", "/v1/operations/"+own, opA, ownBody).want(t, 201)

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
	b.do("sign in", chromedp.Navigate(alpha.srv.base+"/#token="+liaison))
	b.waitFor("bravo's link up", `(document.querySelector('#peers [data-peer="bravo"]')?.textContent ?? '').includes('up')`, 20*time.Second)
	b.waitFor("bravo's operation on the map", `document.querySelectorAll('path.op-bravo').length > 0`, 20*time.Second)
	if n := eval[int](b, `document.querySelectorAll('path.op-stale').length`); n != 0 {
		t.Errorf("%d operations drawn stale while the link is up", n)
	}

	bravo.kill()
	b.waitFor("bravo's link stale", `(document.querySelector('#peers [data-peer="bravo"]')?.textContent ?? '').includes('STALE')`, 20*time.Second)
	b.waitFor("bravo's operation drawn stale", `document.querySelectorAll('path.op-bravo.op-stale').length > 0`, 10*time.Second)
	if title := eval[string](b, `document.querySelector('#peers [data-peer="bravo"]').title`); !strings.Contains(title, "override") {
		t.Errorf("the stale link's title does not say what to do: %q", title)
	}
	b.noProblems()

	// Activating alpha's operation now needs a head's override, which the
	// head records from the operation's detail.
	ownBody["state"] = "active"
	alpha.srv.do("PUT", "/v1/operations/"+own, opA, ownBody, "If-Match", `"1"`).want(t, 409, "peer_unreachable")
	headCtx, cancelHead := chromedp.NewContext(browser)
	defer cancelHead()
	head := &tab{t: t, ctx: headCtx, name: "alpha head"}
	if err := chromedp.Do(headCtx); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(headCtx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			go func() {
				_, _ = chromedp.Call(headCtx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true, PromptText: "coordinated by voice over the hotline"})
			}()
		}
	}); err != nil {
		t.Fatal(err)
	}
	head.do("sign in", chromedp.Navigate(alpha.srv.base+"/#token="+alpha.srv.token("head", "alpha")))
	head.waitFor("bravo's link stale", `(document.querySelector('#peers [data-peer="bravo"]')?.textContent ?? '').includes('STALE')`, 20*time.Second)
	head.waitFor("ALPHA1 listed", `[...document.querySelectorAll('#op-list [data-op]')].some((b) => b.textContent.includes('ALPHA1'))`, 10*time.Second)
	head.openOperation("ALPHA1")
	head.do("record the override", chromedp.Evaluate[chromedp.Void](`document.getElementById('btn-override').click()`))
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := alpha.srv.do("PUT", "/v1/operations/"+own, opA, ownBody, "If-Match", `"1"`)
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("activation after the head's override from the console: %d %s", r.status, r.raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	head.noProblems()
}
