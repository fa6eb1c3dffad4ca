package cppcomet_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/bridge/cppcomet"
)

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"/ws/sesion=KEY&myid=5&devid=15&v=4.08&uuid=Db_YTZOMMQc902yluqo7mLns3RXWFz2t&api=js",
		"/ws/sesion=undefined&myid=undefined&devid=15&v=3.31&uuid=x&api=js",
		"//comet-server/ws/sesion=&myid=&devid=&v=4.08",
		"/ws/", "/ws/=&=&=&=.", "/ws/a=b&c", "", "&&&&&", "/ws/sesion=a&myid=1&devid=1&v=9999999999.1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		p, err := cppcomet.ParseURL(uri)
		if err != nil {
			var herr *cppcomet.HandshakeError
			if !errors.As(err, &herr) {
				t.Fatalf("error %v is not a HandshakeError", err)
			}
			return
		}
		if p.UserID < 0 || p.DevID < 0 || len(p.UUID) > cppcomet.MaxUUIDLen {
			t.Fatalf("params out of range: %+v", p)
		}
	})
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"subscription\nweb_a\nweb_b", "subscription\n" + strings.Repeat("x", 70),
		"web_pipe2\nweb_chat\nmsg\n*\n{\"a\":1}", "web_pipe2\n@web_a\ne\n*\n", "web_pipe2\nwebauth_a",
		"pipe_log\nweb_a\nm\n", "pipe_count\ntrack_a\nm\n", "track_pipe_users\ntrack_a\nm",
		"user_status\n12", "user_data\nm\n3", "statistics\n{}", "CometQL_call\nm\nt", "\x00\xff", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		cmd, err := cppcomet.ParseCommand(frame)
		var perr *cppcomet.ProtocolError
		switch {
		case err == nil:
			if cmd == nil {
				t.Fatal("nil command without error")
			}
			check(t, cmd)
		case errors.Is(err, cppcomet.ErrUnknownCommand), errors.As(err, &perr):
		default:
			t.Fatalf("untyped error %v", err)
		}
	})
}

// check asserts the invariants every parsed command keeps.
func check(t *testing.T, cmd cppcomet.Command) {
	validName := func(s string, allowEmpty bool) bool {
		if s == "" {
			return allowEmpty
		}
		if len(s) > cppcomet.MaxNameLen {
			return false
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
		return true
	}
	switch c := cmd.(type) {
	case cppcomet.Subscription:
		if len(c.Pipes) > cppcomet.MaxSubscriptions {
			t.Fatalf("%d pipes", len(c.Pipes))
		}
		for _, p := range c.Pipes {
			if len(p) < 2 || !validName(p, false) {
				t.Fatalf("pipe %q", p)
			}
		}
	case cppcomet.WebPipe:
		if !validName(c.Pipe, false) || !validName(c.Event, true) ||
			!(strings.HasPrefix(c.Pipe, "web_") || strings.HasPrefix(c.Pipe, "webauth_")) {
			t.Fatalf("web pipe %+v", c)
		}
	case cppcomet.PipeLog:
		if !validName(c.Pipe, false) || !validName(c.Marker, true) {
			t.Fatalf("pipe_log %+v", c)
		}
	case cppcomet.PipeCount:
		if !validName(c.Pipe, false) || !validName(c.Marker, true) {
			t.Fatalf("pipe_count %+v", c)
		}
	case cppcomet.TrackPipeUsers:
		if !validName(c.Pipe, false) || !strings.HasPrefix(c.Pipe, "track_") {
			t.Fatalf("track_pipe_users %+v", c)
		}
	case cppcomet.UserStatus:
		if c.UserID <= 0 {
			t.Fatalf("user_status %+v", c)
		}
	case cppcomet.UserData:
		if c.UserID <= 0 || !validName(c.Marker, true) {
			t.Fatalf("user_data %+v", c)
		}
	}
}
