package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/agileplus/agileplus/internal/poll"
)

// chromiumPath finds Debian's headless Chromium (AGILEPLUS_CHROMIUM names
// another). scripts/test.sh installs it when missing, so only -short runs
// without it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("AGILEPLUS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testing.Short() {
		t.Skip("no chromium on PATH (scripts/test.sh installs Debian's chromium)")
	}
	t.Fatal("the browser tests need Chromium: apt-get install chromium (scripts/test.sh installs it), or set AGILEPLUS_CHROMIUM")
	return ""
}

// browser is one headless Chromium tab that records console errors and
// uncaught exceptions of the page.
type browser struct {
	t   *testing.T
	ctx context.Context
	log *consoleLog
}

// consoleLog is what the page logged as errors.
type consoleLog struct {
	mu     sync.Mutex
	errors []string
}

// on is the browser for a subtest: failures end the subtest.
func (b *browser) on(t *testing.T) *browser { return &browser{t: t, ctx: b.ctx, log: b.log} }

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // root in CI containers
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return start(t, ctx)
}

// another is a second browser session: a tab of the same Chromium in a
// browser context of its own, with its own cookies.
func (b *browser) another(t *testing.T) *browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return start(t, ctx)
}

func start(t *testing.T, ctx context.Context) *browser {
	t.Helper()
	b := &browser{t: t, ctx: ctx, log: &consoleLog{}}
	// The first action starts the browser, which lives as long as the
	// context of that action: ctx itself, not one bounded per step.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// The browser log reports the API's 4xx answers, which the
			// board expects and shows; the page's own errors are calls
			// of console.error and exceptions nothing caught.
			if m.Type == chromedp.ConsoleError && m.Source == "" || m.IsException() {
				b.log.mu.Lock()
				b.log.errors = append(b.log.errors, m.String())
				b.log.mu.Unlock()
			}
		}
	}()
	return b
}

// run runs actions, each step bounded by the poll timeout.
func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, poll.Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression, awaiting a promise.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, poll.Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser: evaluate %s: %v", js, err)
	}
	return v
}

// until waits for a JavaScript condition to hold in the page.
func (b *browser) until(what, js string) {
	b.t.Helper()
	held := poll.Wait(poll.Timeout, func() bool {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+js+")"))
		return err == nil && ok
	})
	if !held {
		b.t.Fatalf("timed out after %s waiting for %s; the page shows:\n%s", poll.Timeout, what, b.text("body"))
	}
}

// text is the text of the first element sel matches, "" without one.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf("(document.querySelector(%q) || {}).textContent || ''", sel))
}

// fill sets the fields of a form (by name) and submits it with its button.
func (b *browser) fill(form string, fields map[string]string) {
	b.t.Helper()
	var actions []chromedp.Action[chromedp.Void]
	for name, v := range fields {
		actions = append(actions, chromedp.SetValue(chromedp.CSS(fmt.Sprintf("%s [name=%q]", form, name)), v))
	}
	actions = append(actions, chromedp.Click(chromedp.CSS(form+" button[type=submit]")))
	b.run(actions...)
}

// axeSource installs the pinned axe-core (scripts/board/install-axe.sh)
// and returns its script.
func axeSource(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		if testing.Short() {
			t.Skip("npm is needed to install axe-core")
		}
		t.Fatal("npm is needed to install axe-core for the board's accessibility checks")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", "../../scripts/board/install-axe.sh").Output()
	if err != nil {
		t.Fatalf("scripts/board/install-axe.sh: %v", err)
	}
	src, err := os.ReadFile(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	return string(src)
}

// axe runs axe-core on the page as it is and fails the test on a serious
// or critical violation.
func (b *browser) axe(page, src string) {
	b.t.Helper()
	if !eval[bool](b, "typeof axe !== 'undefined'") {
		eval[chromedp.Void](b, src)
	}
	found := eval[string](b, `axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(
		r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
			.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))`)
	if found != "[]" {
		b.t.Errorf("axe-core on the %s page: serious or critical violations: %s", page, found)
	}
}

// shot saves a screenshot of the page as name.png in
// $AGILEPLUS_BOARD_SHOTS, when set: the README's pictures (docs/board)
// come from here.
func (b *browser) shot(name string) {
	b.t.Helper()
	dir := os.Getenv("AGILEPLUS_BOARD_SHOTS")
	if dir == "" {
		return
	}
	// Let the page settle: no refresh pending, no focus ring mid-move.
	b.until("the page idle", `document.getElementById('main').getAttribute('aria-busy') !== 'true'`)
	eval[chromedp.Void](b, `document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))`)
	w, h := eval[float64](b, `window.innerWidth`), eval[float64](b, `window.innerHeight`)
	ctx, cancel := context.WithTimeout(b.ctx, poll.Timeout)
	defer cancel()
	// At 0.8 scale a page stays legible and its picture small.
	png, err := chromedp.Run(ctx, chromedp.Action[[]byte](func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		r, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Clip: &page.Viewport{Width: w, Height: h, Scale: 0.8},
		})
		if err != nil {
			return nil, err
		}
		return r.Data, nil
	}))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// signInLink signs the browser in through a link of agileplus board.
func (b *browser) signInLink(url, dataDir string) {
	b.t.Helper()
	out, stderr, err := runCLI(b.t, url, "--data", dataDir, "board", "--print")
	if err != nil {
		b.t.Fatalf("agileplus board --print: %v\n%s", err, stderr)
	}
	b.run(chromedp.Navigate(strings.TrimSpace(out)))
	b.until("signed in with the local key", `document.getElementById('who').textContent.includes('tester (admin)')`)
}

// moveRight moves a WP's card to the next state with the keyboard.
func (b *browser) moveRight(key string) {
	b.t.Helper()
	card := fmt.Sprintf(`.card[data-key=%q]`, key)
	b.until(key+" on the board", fmt.Sprintf("document.querySelector(%q)", card))
	b.run(chromedp.Focus(chromedp.CSS(card)), chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(kb.ModifierShift)))
}

func (b *browser) consoleErrors() []string {
	b.log.mu.Lock()
	defer b.log.mu.Unlock()
	return append([]string(nil), b.log.errors...)
}

// apiCall calls the server with its local key (the tests' transport adds
// it) and decodes the answer.
func apiCall(t *testing.T, method, url string, body any, out any) {
	t.Helper()
	bs, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(bs))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e bytes.Buffer
		e.ReadFrom(resp.Body)
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, e.String())
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBoardInBrowser(t *testing.T) {
	axeJS := axeSource(t)
	dir := t.TempDir()
	url := startTestServerIn(t, dir)
	b := newBrowser(t)

	var key struct{ Token string }
	apiCall(t, "POST", url+"/v1/keys", map[string]string{"name": "board-tester", "scope": "write"}, &key)

	t.Run("NoSessionWithoutAKey", func(t *testing.T) {
		b := b.on(t)
		b.run(chromedp.Navigate(url + "/"))
		b.until("the sign-in form", `document.getElementById('signin')`)
		b.axe("sign-in", axeJS)
	})
	t.Run("SignInThroughTheCodeLink", func(t *testing.T) {
		b := b.on(t)
		out, stderr, err := runCLI(t, url, "--data", dir, "board", "--print")
		if err != nil {
			t.Fatalf("agileplus board --print: %v\n%s", err, stderr)
		}
		link := strings.TrimSpace(out)
		b.run(chromedp.Navigate(link))
		b.until("signed in with the local key", `document.getElementById('who').textContent.includes('tester (admin)')`)
		b.until("the projects page", `document.querySelector('main h1') && document.querySelector('main h1').textContent === 'Projects'`)
		if loc := eval[string](b, `location.href`); strings.Contains(loc, "signin") {
			t.Errorf("the address still holds the code: %s", loc)
		}
		b.axe("projects", axeJS)
		// The link is spent: opened again (after signing out) it signs
		// nobody in.
		b.run(chromedp.Click(chromedp.ID("signout")))
		b.until("the sign-in form", `document.getElementById('signin')`)
		b.run(chromedp.Navigate(link))
		b.until("the spent code refused", `document.querySelector('main .error') && document.querySelector('main .error').textContent.includes('used or expired')`)
		b.shot("signin")
		if who := b.text("#who"); who != "" {
			t.Errorf("a spent code signed the browser in as %q", who)
		}
	})
	t.Run("SignOutThenSignInWithAKey", func(t *testing.T) {
		b := b.on(t)
		b.until("the sign-in form", `document.getElementById('signin')`)
		b.fill("#signin", map[string]string{"token": "ap_wrong"})
		b.until("the refusal of a wrong key", `document.querySelector('main .error') && document.querySelector('main .error').textContent.includes('no active key')`)
		b.fill("#signin", map[string]string{"token": key.Token})
		b.until("signed in as board-tester", `document.getElementById('who').textContent.includes('board-tester (write)')`)
	})
	t.Run("ChangesWithoutTheCSRFTokenAreRefused", func(t *testing.T) {
		b := b.on(t)
		status := eval[int](b, `fetch('/v1/projects', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"key":"EVIL","name":"x"}'}).then(r => r.status)`)
		if status != http.StatusForbidden {
			t.Errorf("a POST with the cookie and no CSRF token: %d, want 403", status)
		}
	})
	t.Run("CreateProjectFeatureAndWPs", func(t *testing.T) {
		b := b.on(t)
		apiCall(t, "POST", url+"/v1/projects", map[string]string{"key": "WEB", "name": "Web"}, nil)
		b.run(chromedp.Navigate(url + "/#/p/WEB"))
		b.until("the project page", `document.getElementById('new-feature')`)
		b.fill("#new-feature", map[string]string{"slug": "board", "title": "The board"})
		b.until("the feature listed", `document.querySelector('tr[data-slug="board"]')`)
		b.until("the feature offered for WPs", `document.querySelector('#new-wp select[name=feature]').value === 'board'`)
		b.fill("#new-wp", map[string]string{"title": "Schema first", "estimate": "3"})
		b.until("WEB-1 on the board", `document.querySelector('.column[data-state=planned] .card[data-key="WEB-1"]')`)
		b.fill("#new-wp", map[string]string{"title": "Then the API", "estimate": "2"})
		b.until("WEB-2 on the board", `document.querySelector('.column[data-state=planned] .card[data-key="WEB-2"]')`)
		b.axe("board", axeJS)
	})
	t.Run("AddDependency", func(t *testing.T) {
		b := b.on(t)
		b.run(chromedp.Navigate(url + "/#/wp/WEB-2"))
		b.until("the WP page", `document.getElementById('add-dep')`)
		b.fill("#add-dep", map[string]string{"to": "WEB-1"})
		b.until("WEB-2 waits on WEB-1", `document.querySelector('ul[data-direction=depends_on] a[href="#/wp/WEB-1"]')`)
		// The DOM's replaceChildren writes a null as the text "null".
		if got := b.text("main"); strings.Contains(got, "null") || strings.Contains(got, "undefined") {
			t.Errorf("the WP page shows a null or undefined: %q", got)
		}
		b.shot("wp")
		b.axe("work package", axeJS)
	})
	t.Run("RefusedMoveShowsTheAPIsMessage", func(t *testing.T) {
		b := b.on(t)
		b.run(chromedp.Navigate(url + "/#/p/WEB"))
		b.until("WEB-2 on the board", `document.querySelector('.card[data-key="WEB-2"]')`)
		// The keyboard: focus the card, Shift+Right moves it to doing.
		b.run(chromedp.Focus(chromedp.CSS(`.card[data-key="WEB-2"]`)),
			chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(kb.ModifierShift)))
		b.until("the refusal", `document.getElementById('refusal')`)
		b.axe("board with a refused move", axeJS)
		if msg := b.text("#refusal"); !strings.Contains(msg, "WEB-1") {
			t.Errorf("the refusal says %q; want it to name WEB-1, what WEB-2 waits on", msg)
		}
		if got := b.text(`.column[data-state=planned] .card[data-key="WEB-2"]`); got == "" {
			t.Error("a refused move moved the card")
		}
	})
	t.Run("ForceWithReason", func(t *testing.T) {
		b := b.on(t)
		b.fill("#force", map[string]string{"reason": "the schema is agreed"})
		b.until("WEB-2 in doing", `document.querySelector('.column[data-state=doing] .card[data-key="WEB-2"]')`)
	})
	t.Run("ChangeElsewhereAppears", func(t *testing.T) {
		b := b.on(t)
		apiCall(t, "POST", url+"/v1/features/board/wps", map[string]any{"title": "Made by an agent"}, nil)
		b.until("the agent's WP on the open board", `[...document.querySelectorAll('.card')].some(c => c.textContent.includes('Made by an agent'))`)
		b.until("the event in the live feed", `document.querySelector('#feed li[data-type="dev.agileplus.wp.created"]')`)
	})
	t.Run("ClaimAndRelease", func(t *testing.T) {
		b := b.on(t)
		b.run(chromedp.Navigate(url + "/#/wp/WEB-1"))
		b.until("the claim form", `document.getElementById('claim')`)
		b.fill("#claim", map[string]string{"agent": "ada", "minutes": "30"})
		b.until("the claim holder", `document.getElementById('claim-holder').textContent.includes('Claimed by ada')`)
		b.run(chromedp.Click(chromedp.ID("release")))
		b.until("released", `document.getElementById('claim-holder').textContent.includes('Not claimed')`)
	})
	t.Run("FinishAWPSeenByAnotherSession", func(t *testing.T) {
		b := b.on(t)
		other := b.another(t)
		other.signInLink(url, dir)
		other.run(chromedp.Navigate(url + "/#/p/WEB"))
		other.until("WEB-1 planned in the other session", `document.querySelector('.column[data-state=planned] .card[data-key="WEB-1"]')`)
		b.run(chromedp.Navigate(url + "/#/p/WEB"))
		for _, state := range []string{"doing", "review", "done"} {
			b.moveRight("WEB-1")
			in := fmt.Sprintf(`document.querySelector('.column[data-state=%s] .card[data-key="WEB-1"]')`, state)
			b.until("WEB-1 in "+state, in)
			other.until("WEB-1 in "+state+" in the other session", in)
		}
		if got := b.text(`.column[data-state=done] .card[data-key="WEB-1"]`); got == "" {
			t.Error("WEB-1 is not done")
		}
		b.shot("board")
		if errs := other.consoleErrors(); len(errs) > 0 {
			t.Errorf("the other session's page logged errors:\n%s", strings.Join(errs, "\n"))
		}
	})
	t.Run("Health", func(t *testing.T) {
		b := b.on(t)
		b.run(chromedp.Navigate(url + "/#/health"))
		b.until("the readiness matrix", `document.querySelector('tr[data-check=store]')`)
		b.shot("health")
		b.axe("health", axeJS)
		if got := b.text("tr[data-check=store]"); !strings.Contains(got, "ok") {
			t.Errorf("store row %q, want ok", got)
		}
	})
	t.Run("Graph", func(t *testing.T) {
		b := b.on(t)
		b.run(chromedp.Navigate(url + "/#/graph/WEB"))
		b.until("the graph", `document.querySelector('.graph svg')`)
		b.until("the critical path highlighted", `document.querySelector('.graph g.node.critical[data-key="WEB-2"]')`)
		b.shot("graph")
		b.axe("graph", axeJS)
	})
	t.Run("DarkThemeAtPhoneWidth", func(t *testing.T) {
		b := b.on(t)
		b.run(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
			})
			return err
		}), chromedp.EmulateViewport(390, 844), chromedp.Navigate(url+"/#/p/WEB"))
		b.until("the board", `document.querySelector('.card[data-key="WEB-1"]')`)
		if bg := eval[string](b, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(13, 17, 23)" {
			t.Errorf("body background %s in dark mode, want the dark theme's rgb(13, 17, 23)", bg)
		}
		if over := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth`); over {
			t.Error("the board is wider than a phone-width window")
		}
		b.axe("board, dark, phone width", axeJS)
		b.shot("board-dark-phone")
	})
	t.Run("NoConsoleErrors", func(t *testing.T) {
		b := b.on(t)
		if errs := b.consoleErrors(); len(errs) > 0 {
			t.Errorf("the page logged errors:\n%s", strings.Join(errs, "\n"))
		}
	})
}

// boardSession reads /ui/session as a browser without a cookie would.
func boardSession(t *testing.T, url string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/ui/session", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	return info
}

// bare sends requests with no key: not the tests' transport, which adds
// the local key.
var bare = &http.Client{Transport: &http.Transport{}}

// TestBoardWiring: serve signs nobody in by itself, on loopback either;
// agileplus board, with the local key file, hands out a link that signs a
// browser in once; --insecure-no-auth needs no sign-in.
func TestBoardWiring(t *testing.T) {
	dir := t.TempDir()
	url := startTestServerIn(t, dir)
	t.Run("NoLocalMode", func(t *testing.T) {
		for _, host := range []string{"127.0.0.1", "localhost"} {
			req, _ := http.NewRequest("GET", url+"/ui/session", nil)
			req.Host = strings.Replace(strings.TrimPrefix(url, "http://"), "127.0.0.1", host, 1)
			resp, err := bare.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var info map[string]any
			json.NewDecoder(resp.Body).Decode(&info)
			resp.Body.Close()
			if info["signed_in"] != false || len(resp.Cookies()) != 0 {
				t.Errorf("/ui/session by %s without a key: %v, cookies %v; want no session", host, info, resp.Cookies())
			}
		}
	})
	t.Run("CodeRouteNeedsAKey", func(t *testing.T) {
		resp, err := bare.Post(url+"/ui/signin-code", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST /ui/signin-code without a key: %d, want 401", resp.StatusCode)
		}
	})
	t.Run("BoardPrintsAOneTimeLink", func(t *testing.T) {
		out, stderr, err := runCLI(t, url, "--data", dir, "board", "--print")
		if err != nil {
			t.Fatalf("agileplus board --print: %v\n%s", err, stderr)
		}
		link := strings.TrimSpace(out)
		code, ok := strings.CutPrefix(link, url+"/#signin=")
		if !ok || code == "" {
			t.Fatalf("agileplus board --print printed %q, want %s/#signin=CODE", out, url)
		}
		signIn := func() *http.Response {
			req, _ := http.NewRequest("POST", url+"/ui/signin", strings.NewReader(`{"code":"`+code+`"}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := bare.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}
		if resp := signIn(); resp.StatusCode != 200 || len(resp.Cookies()) != 1 {
			t.Fatalf("sign-in with the printed code: %d, cookies %v", resp.StatusCode, resp.Cookies())
		}
		if resp := signIn(); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("the printed code a second time: %d, want 401", resp.StatusCode)
		}
	})
	t.Run("BoardOpensThroughAPrivateFile", func(t *testing.T) {
		var opened string
		old := openBrowser
		openBrowser = func(path string) error { opened = path; return nil }
		t.Cleanup(func() { openBrowser = old })
		cache := t.TempDir()
		var out, errb bytes.Buffer
		getenv := func(k string) string {
			return map[string]string{"USER": "tester", "XDG_CACHE_HOME": cache}[k]
		}
		if err := run(context.Background(), []string{"agileplus", "--server", url, "--data", dir, "board"}, getenv, strings.NewReader(""), &out, &errb); err != nil {
			t.Fatalf("agileplus board: %v\n%s", err, errb.String())
		}
		if strings.Contains(out.String(), "signin=") {
			t.Errorf("agileplus board printed the code: %q", out.String())
		}
		st, err := os.Stat(opened)
		if err != nil || st.Mode().Perm() != 0o600 || !strings.HasPrefix(opened, cache) {
			t.Fatalf("the browser was given %q (%v, %v); want a file in the cache directory readable by its owner only", opened, st, err)
		}
		page, _ := os.ReadFile(opened)
		if !strings.Contains(string(page), url+"/#signin=sic_") {
			t.Errorf("the sign-in page %q holds no sign-in link", page)
		}
	})
	t.Run("BoardWithoutAKey", func(t *testing.T) {
		_, _, err := runCLI(t, url, "--token", "ap_wrong", "board", "--print")
		if err == nil || !strings.Contains(err.Error(), "refused the key") {
			t.Errorf("agileplus board with a wrong key: %v, want the key refused", err)
		}
	})
	t.Run("InsecureNoAuth", func(t *testing.T) {
		url := startServe(t, t.TempDir(), nil, "--insecure-no-auth")
		info := boardSession(t, url)
		if info["auth"] != "off" || info["signed_in"] != true {
			t.Errorf("/ui/session with --insecure-no-auth: %v", info)
		}
		out, stderr, err := runCLI(t, url, "board", "--print")
		if err != nil || strings.TrimSpace(out) != url+"/" {
			t.Errorf("agileplus board --print without authentication: %q, %v %s; want the plain URL", out, err, stderr)
		}
	})
}
