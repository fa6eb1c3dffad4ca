package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// TestScreenshots writes PNGs of the main pages into the folder named by
// SWITCHBOARD_SCREENSHOTS (`make screenshots` sets docs/); without it the
// test is skipped.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("SWITCHBOARD_SCREENSHOTS")
	if dir == "" {
		t.Skip("set SWITCHBOARD_SCREENSHOTS=DIR (make screenshots) to write the console screenshots")
	}
	srv := startServer(t)
	b := newBrowser(t)
	shot := func(name string) {
		png := get(t, b.ctx, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(dir, "console-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, b.ctx, chromedp.Navigate(srv.HTTPURL+"/"), chromedp.WaitVisible(`#login-form`))
	shot("login")
	login(t, b.ctx, srv)
	run(t, b.ctx, chromedp.SetValue(`#live-form [name=channels]`, "orders, news"), chromedp.Click(`#live-form button[type=submit]`), chromedp.WaitVisible(`#live-state.live`))
	for i, d := range []string{`{"id":1,"total":12.5}`, `{"id":2,"total":7}`, `{"text":"hello"}`} {
		ch := []string{"orders", "orders", "news"}[i]
		if _, err := srv.Hub.Publish(context.Background(), &pb.PublishRequest{Event: &pb.Event{Channel: ch, Name: "created", Key: fmt.Sprint(i + 1), Data: d}}); err != nil {
			t.Fatal(err)
		}
	}
	run(t, b.ctx, chromedp.WaitVisible(`//tbody[@id="live-events"]/tr[3]`))
	shot("live")
	run(t, b.ctx, chromedp.Click(`nav button[data-page="publish"]`), chromedp.WaitVisible(`#publish-form`),
		chromedp.SendKeys(`#publish-form [name=channel]`, "orders"), chromedp.SetValue(`#publish-form [name=data]`, `{"id": 3, "total": 99}`))
	shot("publish")
	run(t, b.ctx, chromedp.Click(`nav button[data-page="channels"]`), chromedp.WaitVisible(`#page-channels`))
	shot("channels")
	run(t, b.ctx, chromedp.Click(`nav button[data-page="nodes"]`), chromedp.WaitVisible(`//tbody[@id="nodes"]/tr`))
	shot("nodes")
}
