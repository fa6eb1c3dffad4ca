package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

const (
	adminUser = "ops"
	adminPass = "correct horse"
)

// browserPath finds Debian's chromium (or another Chrome).
func browserPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no headless browser: install Debian's chromium package (apt-get install chromium) to run the console tests"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser starts a headless Chromium for the test and collects the page's
// console errors and uncaught exceptions.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// One headless Chromium serves every test of the package; each test gets
// a fresh browser context (its own cookies and storage) in it.
var root struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if root.cancel != nil {
		root.cancel()
	}
	os.Exit(code)
}

func newBrowser(t *testing.T) *browser {
	path := browserPath(t)
	root.once.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.WindowSize(1280, 860),
		)
		actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelC := chromedp.NewContext(actx)
		root.ctx, root.cancel = ctx, func() { cancelC(); cancelA() }
		root.err = chromedp.Do(ctx)
	})
	if root.err != nil {
		t.Fatalf("start browser: %v", root.err)
	}
	ctx, cancelC := chromedp.NewContext(root.ctx, chromedp.WithNewBrowserContext())
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelT(); cancelC() })
	b := &browser{ctx: ctx}
	if err := b.listen(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return b
}

func (b *browser) listen(ctx context.Context) error {
	return chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.errors = append(b.errors, fmt.Sprintf("exception: %s %v", e.ExceptionDetails.Text, e.ExceptionDetails.Exception))
		case *runtime.EventConsoleAPICalled:
			if e.Type == "error" {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.errors = append(b.errors, "console.error: "+strings.Join(parts, " "))
			}
		}
	})
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

func run(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// get runs one action that returns a value.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// eval evaluates a JavaScript expression, awaiting a promise.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return get(t, ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

func startServer(t *testing.T, ssoOrigins ...string) *apptest.Server {
	return apptest.Start(t, func(c *app.Config) {
		c.Admins = []app.Admin{{Username: adminUser, Password: adminPass}}
		c.Console.SSOOrigins = ssoOrigins
	})
}

// login logs in through the form and waits for the live page.
func login(t *testing.T, ctx context.Context, srv *apptest.Server) {
	run(t, ctx,
		chromedp.Navigate(srv.HTTPURL+"/"),
		chromedp.WaitVisible(`#login-form`),
		chromedp.SendKeys(`#login-form [name=username]`, adminUser),
		chromedp.SendKeys(`#login-form [name=password]`, adminPass),
		chromedp.Click(`#login-form button[type=submit]`),
		chromedp.WaitVisible(`#nav`),
		chromedp.WaitVisible(`#page-live`),
	)
}

func TestPageLoadsWithoutErrors(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t)
	var csp string
	resp, err := http.Get(srv.HTTPURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp = resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	run(t, b.ctx, chromedp.Navigate(srv.HTTPURL+"/"), chromedp.WaitReady(`body[data-ready="1"]`), chromedp.WaitVisible(`#login-form`))
	login(t, b.ctx, srv)
	for _, page := range []string{"publish", "channels", "history", "nodes", "webhooks", "live"} {
		run(t, b.ctx, chromedp.Click(`nav button[data-page="`+page+`"]`), chromedp.WaitVisible(`#page-`+page))
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("page errors: %v", errs)
	}
}

func TestLiveViewShowsAnEventPublishedOverGRPC(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t)
	login(t, b.ctx, srv)
	run(t, b.ctx,
		chromedp.SetValue(`#live-form [name=channels]`, "news"),
		chromedp.Click(`#live-form button[type=submit]`),
		chromedp.WaitVisible(`#live-state.live`),
	)
	start := time.Now()
	if _, err := srv.Hub.Publish(context.Background(), &pb.PublishRequest{Event: &pb.Event{Channel: "news", Name: "hello", Data: `{"text":"from grpc"}`}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	run(t, ctx, chromedp.WaitVisible(`//tbody[@id="live-events"]/tr/td[contains(., "from grpc")]`))
	took := time.Since(start)
	t.Logf("event shown %v after the publish", took)
	if took > time.Second {
		t.Errorf("event took %v to appear (want within a second)", took)
	}
	channel := get(t, b.ctx, chromedp.Text(chromedp.CSS(`#live-events tr td:nth-child(3)`)))
	if channel != "news" {
		t.Fatalf("channel cell %q", channel)
	}
}

func TestPublishFormReachesAGRPCSubscriber(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t)
	stream, err := srv.Hub.Subscribe(context.Background(), &pb.SubscribeRequest{Filters: []*pb.Filter{{Channels: []string{"orders"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil { // subscribed
		t.Fatal(err)
	}
	login(t, b.ctx, srv)
	run(t, b.ctx,
		chromedp.Click(`nav button[data-page="publish"]`),
		chromedp.WaitVisible(`#publish-form`),
		chromedp.SendKeys(`#publish-form [name=channel]`, "orders"),
		chromedp.SendKeys(`#publish-form [name=name]`, "created"),
		chromedp.SetValue(`#publish-form [name=data]`, `{"id": 7}`),
		chromedp.Click(`#publish-form button[type=submit]`),
		chromedp.WaitVisible(`//p[@id="publish-result"][starts-with(., "Published")]`),
	)
	for {
		m, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev := m.GetEvent(); ev != nil {
			if ev.Channel != "orders" || ev.Name != "created" || ev.Data != `{"id": 7}` || ev.GetPublisher().GetUser() != adminUser {
				t.Fatalf("got %v", ev)
			}
			return
		}
	}
}

func TestPublishFormRefusesInvalidJSON(t *testing.T) {
	srv := startServer(t)
	b := newBrowser(t)
	login(t, b.ctx, srv)
	run(t, b.ctx,
		chromedp.Click(`nav button[data-page="publish"]`),
		chromedp.SendKeys(`#publish-form [name=channel]`, "orders"),
		chromedp.SetValue(`#publish-form [name=data]`, `{"id": `),
		chromedp.SendKeys(`#publish-form [name=data]`, "x"), // fires input
		chromedp.WaitVisible(`//p[@id="publish-json"][starts-with(., "not JSON")]`),
	)
	hint := get(t, b.ctx, chromedp.Text(chromedp.CSS(`#publish-json`)))
	if !strings.HasPrefix(hint, "not JSON") {
		t.Fatalf("hint %q", hint)
	}
}

// opener is a page on another origin that opens the console the way a
// Comet integration does and can post messages to it.
func opener(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>portal</title><script>
window.loaded = new Promise((resolve) => addEventListener("message", (e) => { if (e.data && e.data.msg === "app_loaded") resolve(e.origin); }));
window.w = window.open(new URLSearchParams(location.search).get("console"), "console");
</script>`)
	}))
	t.Cleanup(s.Close)
	return s
}

// openConsole opens the opener page, which opens the console in a new
// window; it returns the opener's context and the console window's.
func openConsole(t *testing.T, b *browser, srv *apptest.Server, portal *httptest.Server) (openerCtx, consoleCtx context.Context) {
	newTab := chromedp.WaitNewTarget(b.ctx, func(info *target.Info) bool { return strings.HasPrefix(info.URL, srv.HTTPURL) })
	run(t, b.ctx, chromedp.Navigate(portal.URL+"/?console="+srv.HTTPURL+"/"))
	var id target.ID
	select {
	case id = <-newTab:
	case <-time.After(20 * time.Second):
		t.Fatal("the console window did not open")
	}
	cctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(id))
	t.Cleanup(cancel)
	if err := b.listen(cctx); err != nil {
		t.Fatal(err)
	}
	run(t, cctx, chromedp.WaitReady(`body[data-ready="1"]`))
	return b.ctx, cctx
}

// post sends msg from the opener to the console window after the console
// announced itself, and returns once the console's message handlers ran.
func post(t *testing.T, openerCtx, consoleCtx context.Context, consoleOrigin, msg string) {
	origin := eval[string](t, openerCtx, `window.loaded`)
	if origin != consoleOrigin {
		t.Fatalf("app_loaded came from %q", origin)
	}
	// The console's own handler was added first, so it has run when this
	// one resolves.
	eval[bool](t, consoleCtx, `window.seen = new Promise((r) => addEventListener("message", () => r(true), {once: true})); true`)
	eval[bool](t, openerCtx, `w.postMessage(`+msg+`, "`+consoleOrigin+`"); true`)
	eval[bool](t, consoleCtx, `window.seen`)
}

func adminKey(t *testing.T, srv *apptest.Server) string {
	resp, err := pb.NewAdminServiceClient(srv.Conn).StartSession(context.Background(), &pb.StartSessionRequest{
		Credentials: &pb.AdminCredentials{Username: adminUser, AuthType: pb.AdminAuthType_ADMIN_AUTH_TYPE_PASSWORD, Password: adminPass}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.SessionKey
}

func TestSingleSignOnFromAnAllowedOrigin(t *testing.T) {
	portal := opener(t)
	srv := startServer(t, portal.URL)
	b := newBrowser(t)
	o, c := openConsole(t, b, srv, portal)
	post(t, o, c, srv.HTTPURL, fmt.Sprintf(`{msg: "session_login", username: %q, sessionkey: %q}`, adminUser, adminKey(t, srv)))
	run(t, c, chromedp.WaitVisible(`#nav`))
	who := get(t, c, chromedp.Text(chromedp.CSS(`#who span`)))
	if who != adminUser+" (administrator)" {
		t.Fatalf("logged in as %q", who)
	}
}

func TestSingleSignOnRefusals(t *testing.T) {
	allowed := opener(t)
	other := opener(t)
	srv := startServer(t, allowed.URL)
	key := adminKey(t, srv)
	cases := []struct {
		name, msg string
		portal    *httptest.Server
		wantError bool
	}{
		{"disallowed origin", fmt.Sprintf(`{msg: "session_login", username: %q, sessionkey: %q}`, adminUser, key), other, false},
		{"bad key", fmt.Sprintf(`{msg: "session_login", username: %q, sessionkey: "nope"}`, adminUser), allowed, true},
		{"key of another admin", fmt.Sprintf(`{msg: "session_login", username: "mallory", sessionkey: %q}`, key), allowed, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t)
			o, c := openConsole(t, b, srv, tc.portal)
			if tc.portal == other {
				// The console does not even announce itself to an origin it does not know.
				eval[bool](t, o, `window.loaded = Promise.resolve(`+fmt.Sprintf("%q", srv.HTTPURL)+`); true`)
			}
			post(t, o, c, srv.HTTPURL, tc.msg)
			if tc.wantError {
				run(t, c, chromedp.WaitVisible(`//p[@id="login-error"][starts-with(., "Single sign-on refused")]`))
			}
			navHidden := eval[bool](t, c, `document.querySelector("#nav").hidden`)
			if !navHidden {
				t.Fatal("logged in")
			}
		})
	}
}

func TestUserSessionLoginShowsTheUserView(t *testing.T) {
	portal := opener(t)
	srv := startServer(t, portal.URL)
	b := newBrowser(t)
	o, c := openConsole(t, b, srv, portal)
	post(t, o, c, srv.HTTPURL, fmt.Sprintf(`{msg: "user_session_login", username: "42", sessionkey: %q}`, srv.Token(t, "42")))
	run(t, c, chromedp.WaitVisible(`#nav`))
	who := get(t, c, chromedp.Text(chromedp.CSS(`#who span`)))
	publishHidden := eval[bool](t, c, `document.querySelector('nav button[data-page="publish"]').hidden`)
	historyHidden := eval[bool](t, c, `document.querySelector('nav button[data-page="history"]').hidden`)
	if who != "42 (user)" || !publishHidden || historyHidden {
		t.Fatalf("who %q, publish hidden %v, history hidden %v", who, publishHidden, historyHidden)
	}
	// The API refuses administrator calls to the user's session.
	status := eval[int](t, c, `fetch("/console/api/stats").then((r) => r.status)`)
	if status != http.StatusForbidden {
		t.Fatalf("stats as a user: %d", status)
	}
}
