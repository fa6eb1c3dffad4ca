package drp_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/app"
)

// TestOrigins: the origin rule of every websocket face (allowed_origins:
// no Origin, this server's host, or a listed pattern); DRP refuses other
// pages before the upgrade with 403.
func TestOrigins(t *testing.T) {
	const self = "self" // stands for this server's own http://host:port
	for _, tt := range []struct {
		name    string
		allowed []string
		origin  string
		ok      bool
	}{
		{"default: no Origin (drpcli)", nil, "", true},
		{"default: same host", nil, self, true},
		{"default: another site", nil, "https://ux.example.com", false},
		{"listed", []string{"ux.example.com"}, "https://ux.example.com", true},
		{"listed with scheme", []string{"https://ux.example.com"}, "http://ux.example.com", false},
		{"not listed", []string{"ux.example.com"}, "https://evil.example.com", false},
		{"any", []string{"*"}, "https://evil.example.com", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := start(t, func(c *app.Config) { c.AllowedOrigins = tt.allowed })
			h := http.Header{"Authorization": {basic(adminUser, adminPass)}}
			switch tt.origin {
			case "":
			case self:
				h.Set("Origin", srv.HTTPURL)
			default:
				h.Set("Origin", tt.origin)
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, srv.WSURL+"/api/v3/ws", &websocket.DialOptions{HTTPHeader: h})
			if tt.ok {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				(&client{t: t, c: c}).do("register", "profiles.*.*")
				c.CloseNow()
				return
			}
			if err == nil {
				c.CloseNow()
				t.Fatal("dial succeeded, want 403")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("dial: %v (%v), want 403", err, resp)
			}
		})
	}
}
