package comet_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/internal/streamable"
)

// A publish on every other face reaches the stream as SEVT_HUB_EVENT with
// the canonical fields in Data.
func TestCrossFacePublish(t *testing.T) {
	s := start(t, nil)
	c := open(t, s, "allowList=4900")

	cases := []struct {
		face    string
		publish func(t *testing.T)
		want    string // the Data of the StreamableEvent ("*": any value)
	}{
		{"grpc", func(t *testing.T) {
			publish(t, s, &pb.Event{Channel: "g_ch", Name: "g", Key: "gk", Data: `{"g":1}`})
		}, `{"ID":"*","Channel":"g_ch","Name":"g","Key":"gk","Data":{"g":1},"Offset":"*"}`},
		{"rest", func(t *testing.T) {
			postJSON(t, s.HTTPURL+"/v1/publish", `{"channel":"r_ch","name":"r","key":"rk","data":"[1,2]"}`,
				map[string]string{"Authorization": "apikey " + apptest.TestSecret})
		}, `{"ID":"*","Channel":"r_ch","Name":"r","Key":"rk","Data":[1,2],"Offset":"*"}`},
		{"centrifugo", func(t *testing.T) {
			body := `{"method":"publish","params":{"channel":"c_ch","data":{"c":true}}}`
			mac := hmac.New(sha256.New, []byte(apptest.TestSecret))
			mac.Write([]byte(body))
			postJSON(t, s.HTTPURL+"/api/", body, map[string]string{"X-API-Sign": hex.EncodeToString(mac.Sum(nil))})
		}, `{"ID":"*","Channel":"c_ch","Data":{"c":true},"Offset":"*"}`},
		{"drp", func(t *testing.T) {
			postJSON(t, s.HTTPURL+"/api/v3/events", `{"Type":"machines","Action":"update","Key":"m1","Object":{"d":2}}`,
				map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(adminUser+":"+adminPass))})
		}, `{"ID":"*","Channel":"machines","Name":"update","Key":"m1","User":"admin","Data":{"d":2},"Offset":"*"}`},
		{"cppcomet", func(t *testing.T) {
			ws := dialCppComet(t, s)
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			if err := ws.Write(ctx, websocket.MessageText, []byte("web_pipe2\nweb_x\nev\n*\n\"hi\"")); err != nil {
				t.Fatal(err)
			}
		}, `{"ID":"*","Channel":"web_x","Name":"ev","Client":"*","Data":"\"hi\"","Offset":"*"}`},
	}
	for _, tc := range cases {
		t.Run(tc.face, func(t *testing.T) {
			tc.publish(t)
			ev := readEvent(t, c)
			if ev.Type != streamable.HubEvent || ev.TypeString != "SEVT_HUB_EVENT" || ev.Timestamp == 0 {
				t.Fatalf("%s publish reached the stream as %+v", tc.face, ev)
			}
			wantJSON(t, ev.Data, tc.want)
		})
	}
}

// A comet or DRP connection opening and closing reaches the stream as
// SEVT_SESSION_CONNECT and SEVT_SESSION_DISCONNECT.
func TestCrossFaceLifecycle(t *testing.T) {
	s := start(t, nil)
	c := open(t, s, "allowList=4910,4911")
	for _, face := range []string{"cppcomet", "drp"} {
		t.Run(face, func(t *testing.T) {
			var ws *websocket.Conn
			if face == "cppcomet" {
				ws = dialCppComet(t, s)
			} else {
				ws = dialDRP(t, s)
			}
			ev := readEvent(t, c)
			if ev.Type != streamable.SessionConnect || ev.ResourceID == "" {
				t.Fatalf("connect reached the stream as %+v", ev)
			}
			var d streamable.HubEventData
			if err := json.Unmarshal(ev.Data, &d); err != nil || d.Subject != face || d.Channel != streamable.ChannelSessions {
				t.Fatalf("connect data %s (%v), want subject %q", ev.Data, err, face)
			}
			ws.Close(websocket.StatusNormalClosure, "")
			ev2 := readEvent(t, c)
			if ev2.Type != streamable.SessionDisconnect || ev2.ResourceID != ev.ResourceID {
				t.Fatalf("disconnect reached the stream as %+v (connect was %+v)", ev2, ev)
			}
		})
	}
}

// dialCppComet opens an anonymous comet-server connection and reads its
// serverInfo frame.
func dialCppComet(t *testing.T, s *apptest.Server) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, s.WSURL+"/ws/sesion=&myid=&devid=0&v=4.08&uuid=crossface&api=js", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	if _, b, err := ws.Read(ctx); err != nil || !strings.Contains(string(b), "serverInfo") {
		t.Fatalf("comet first frame %q, %v", b, err)
	}
	return ws
}

// dialDRP opens a DRP event websocket as the admin and registers a filter,
// waiting for its acknowledgement.
func dialDRP(t *testing.T, s *apptest.Server) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	h := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(adminUser+":"+adminPass))}}
	ws, _, err := websocket.Dial(ctx, s.WSURL+"/api/v3/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

func postJSON(t *testing.T, url, body string, headers map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 || strings.Contains(string(b), `"error":"`) && !strings.Contains(string(b), `"error":""`) {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
}
