package app_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/app"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// announced is the body size the requests below claim: far more than any
// limit, so that a server reading it whole would never answer in time.
const announced = 256 << 20

// pushed is what pushBody saw: the answer, its body, and how many body
// bytes the client had written when the answer arrived.
type pushed struct {
	resp    *http.Response
	body    []byte
	written int64
}

// pushBody sends method path with headers over a raw connection and streams
// a body of announced bytes (chunked when no Content-Length is given in
// headers) while it waits for the answer.
func pushBody(t *testing.T, srv *apptest.Server, method, path string, headers map[string]string, chunked bool) pushed {
	t.Helper()
	conn, err := net.Dial("tcp", srv.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var head strings.Builder
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, srv.HTTPAddr)
	for k, v := range headers {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	if chunked {
		head.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	} else {
		fmt.Fprintf(&head, "Content-Length: %d\r\n\r\n", announced)
	}
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	var written atomic.Int64
	go func() {
		// An open JSON string: a decoder reading it would read it all.
		first := []byte(`{"channel":"c","data":"` + strings.Repeat("x", 64<<10-23))
		chunk := []byte(strings.Repeat("x", 64<<10))
		if chunked {
			frame := func(b []byte) []byte { return append(fmt.Appendf(nil, "%x\r\n", len(b)), append(b, "\r\n"...)...) }
			first, chunk = frame(first), frame(chunk)
		}
		for written.Load() < announced {
			c := chunk
			if written.Load() == 0 {
				c = first
			}
			n, err := conn.Write(c)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	// Generous: a body up to a face's bound (4 MiB) is read first.
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: no answer while the body was being sent (%d bytes written): %v", method, path, written.Load(), err)
	}
	at := written.Load()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return pushed{resp: resp, body: body, written: at}
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func withAdmin(c *app.Config) { c.Admins = []app.Admin{{Username: "admin", Password: "pw"}} }

// Credentials are checked before a body is read, on every face that takes
// one: the answer comes while the client is still sending, after a small
// part of the 256 MiB it announced.
func TestUnauthenticatedBodiesAreNotRead(t *testing.T) {
	srv := apptest.Start(t, withAdmin)
	plain := map[string]string{"Content-Type": "application/json"}
	with := func(k, v string) map[string]string {
		return map[string]string{"Content-Type": "application/json", k: v}
	}
	cases := []struct {
		name, path string
		headers    map[string]string
		chunked    bool
		status     int
		code       float64 // REST error code, 0 for other faces
	}{
		{"REST no credentials", "/v1/publish", plain, false, http.StatusUnauthorized, 16},
		{"REST no credentials chunked", "/v1/publish", plain, true, http.StatusUnauthorized, 16},
		{"REST wrong api key", "/v1/publish", with("Authorization", "apikey nope"), false, http.StatusUnauthorized, 16},
		{"REST bad bearer", "/v1/subscribe", with("Authorization", "bearer not.a.jwt"), false, http.StatusUnauthorized, 16},
		{"DRP no credentials", "/api/v3/events", plain, false, http.StatusUnauthorized, 0},
		{"DRP wrong password", "/api/v3/events", with("Authorization", basic("admin", "no")), false, http.StatusForbidden, 0},
		{"Centrifugo no sign", "/api/", plain, false, http.StatusBadRequest, 0},
		{"Centrifugo short sign", "/api/", with("X-API-Sign", "abc"), false, http.StatusUnauthorized, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := pushBody(t, srv, http.MethodPost, tc.path, tc.headers, tc.chunked)
			if p.resp.StatusCode != tc.status {
				t.Fatalf("status %d %s, want %d", p.resp.StatusCode, p.body, tc.status)
			}
			if p.written >= 32<<20 {
				t.Fatalf("answered after %d body bytes: the body was read", p.written)
			}
			if tc.code != 0 {
				var e map[string]any
				if err := json.Unmarshal(p.body, &e); err != nil || e["code"] != tc.code || e["message"] == "" {
					t.Fatalf("REST error body %s, want code %v", p.body, tc.code)
				}
			}
		})
	}
}

// A body over a face's bound is answered 413 in the face's own shape,
// whether its length was announced or not. (Centrifugo's 16 MiB bound is
// tested with the face.)
func TestOversizedBodiesAre413(t *testing.T) {
	srv := apptest.Start(t, withAdmin)
	cases := []struct {
		name, path string
		headers    map[string]string
		chunked    bool
		check      func(t *testing.T, body []byte)
	}{
		{"REST", "/v1/publish", map[string]string{"Authorization": "apikey " + apptest.TestSecret}, false, restCode(8)},
		{"REST chunked", "/v1/publish", map[string]string{"Authorization": "apikey " + apptest.TestSecret}, true, restCode(8)},
		{"REST bearer", "/v1/subscribe", map[string]string{"Authorization": "bearer " + srv.Token(t, "42")}, true, restCode(8)},
		{"DRP", "/api/v3/events", map[string]string{"Authorization": basic("admin", "pw"), "Content-Type": "application/json"}, false, drpErrorCode(413)},
		{"DRP chunked", "/api/v3/events", map[string]string{"Authorization": basic("admin", "pw"), "Content-Type": "application/json"}, true, drpErrorCode(413)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := pushBody(t, srv, http.MethodPost, tc.path, tc.headers, tc.chunked)
			if p.resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d %s, want 413", p.resp.StatusCode, p.body)
			}
			if p.written >= 64<<20 {
				t.Fatalf("answered after %d body bytes", p.written)
			}
			if tc.check != nil {
				tc.check(t, p.body)
			}
		})
	}
}

func restCode(code float64) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		var e map[string]any
		if err := json.Unmarshal(body, &e); err != nil || e["code"] != code || e["message"] == "" {
			t.Fatalf("REST error body %s, want code %v", body, code)
		}
	}
}

func drpErrorCode(code float64) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		var e map[string]any
		if err := json.Unmarshal(body, &e); err != nil || e["Code"] != code || e["Model"] != "events" {
			t.Fatalf("DRP error body %s, want Code %v", body, code)
		}
	}
}

// A REST path asked with the wrong method is 405 with Allow, in the REST
// error shape.
func TestRESTMethodNotAllowed(t *testing.T) {
	srv := apptest.Start(t, nil)
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodGet, "/v1/publish", "POST"},
		{http.MethodPost, "/v1/channels", "GET"},
		{http.MethodDelete, "/v1/subscribe", "POST"},
	} {
		req, _ := http.NewRequest(tc.method, srv.HTTPURL+tc.path, nil)
		req.Header.Set("Authorization", "apikey "+apptest.TestSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tc.allow {
			t.Fatalf("%s %s: %d Allow %q %s, want 405 Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), body, tc.allow)
		}
		restCode(12)(t, body)
	}
}

// Invalid UTF-8 in a channel name is refused by every face instead of
// being rewritten to U+FFFD on the way in.
func TestInvalidUTF8IsRefusedEverywhere(t *testing.T) {
	srv := apptest.Start(t, withAdmin)
	const bad = "news\xff\xfe"

	// REST.
	if code, body := rest(t, srv, "/v1/publish", `{"channel":"`+bad+`","data":"1"}`); code != http.StatusBadRequest {
		t.Fatalf("REST: %d %s, want 400", code, body)
	}
	// Centrifugo: the whole request is a 400, as for any malformed body.
	body := `{"method":"publish","params":{"channel":"` + bad + `","data":1}}`
	mac := hmac.New(sha256.New, []byte(apptest.TestSecret))
	mac.Write([]byte(body))
	req, _ := http.NewRequest(http.MethodPost, srv.HTTPURL+"/api/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Sign", hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("Centrifugo: %d, want 400", resp.StatusCode)
	}
	// DRP POST.
	req, _ = http.NewRequest(http.MethodPost, srv.HTTPURL+"/api/v3/events", strings.NewReader(`{"Type":"`+bad+`","Action":"a","Object":1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", basic("admin", "pw"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "UTF-8") {
		t.Fatalf("DRP POST: %d %s, want 400", resp.StatusCode, b)
	}
	// DRP websocket: the frame is ignored (no ack); the next one is
	// acknowledged, so the ack read is the good frame's.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, srv.WSURL+"/api/v3/ws", &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {basic("admin", "pw")}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	for _, f := range []string{"register " + bad + ".*.*", "register good.*.*"} {
		if err := ws.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	_, ack, err := ws.Read(ctx)
	if err != nil || !strings.Contains(string(ack), `"Key":"good.*.*"`) {
		t.Fatalf("first ack %s %v, want the good filter's", ack, err)
	}
	// comet: an error line; the socket stays open.
	comet, cometRead := cometSocket(t, srv, "c9")
	if err := comet.Write(ctx, websocket.MessageText, []byte("web_pipe2\nweb_chat\nmsg\n*\n"+bad)); err != nil {
		t.Fatal(err)
	}
	if m := cometRead(); string(m["event"]) != `"error"` || !strings.Contains(string(m["data"]), "not UTF-8") {
		t.Fatalf("comet: %v, want an error line", m)
	}
}
