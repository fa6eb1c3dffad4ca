package cppcomet_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/bridge/cppcomet"
)

func TestParseCommand(t *testing.T) {
	long := strings.Repeat("x", 61) // web_ + 61 = 65 bytes
	tests := []struct {
		name  string
		frame string
		want  cppcomet.Command
		err   string // ProtocolError text; "unknown" for ErrUnknownCommand
		close bool
	}{
		{name: "subscription", frame: "subscription\nweb_a\nweb_b\ntrack_c", want: cppcomet.Subscription{Pipes: []string{"web_a", "web_b", "track_c"}}},
		{name: "subscription any separator", frame: "subscription\nweb_a,web_b web_c", want: cppcomet.Subscription{Pipes: []string{"web_a", "web_b", "web_c"}}},
		{name: "subscription short token stops", frame: "subscription\nweb_a\n\nweb_b", want: cppcomet.Subscription{Pipes: []string{"web_a"}}},
		{name: "subscription one-byte token stops", frame: "subscription\nweb_a\nx\nweb_b", want: cppcomet.Subscription{Pipes: []string{"web_a"}}},
		{name: "subscription duplicates", frame: "subscription\nweb_a\nweb_a", want: cppcomet.Subscription{Pipes: []string{"web_a"}}},
		{name: "subscription empty", frame: "subscription\n", want: cppcomet.Subscription{}},
		{name: "subscription bare", frame: "subscription", want: cppcomet.Subscription{}},
		{name: "subscription 63-byte name", frame: "subscription\n" + strings.Repeat("a", 63), want: cppcomet.Subscription{Pipes: []string{strings.Repeat("a", 63)}}},
		{name: "subscription 64-byte name", frame: "subscription\n" + strings.Repeat("a", 64), err: "Channel name is too long", close: true},
		{name: "subscription too long", frame: "subscription\n" + strings.Repeat("web_a\n", 363), err: "Too many letters", close: true},
		{name: "web_pipe2", frame: "web_pipe2\nweb_chat\nmsg\n*\n{\"a\":\"b\\nc\"}\nmore", want: cppcomet.WebPipe{Pipe: "web_chat", Event: "msg", Message: "{\"a\":\"b\\nc\"}\nmore"}},
		{name: "web_pipe2 hidden", frame: "web_pipe2\n@web_chat\nmsg\n*\nx", want: cppcomet.WebPipe{Pipe: "web_chat", Hidden: true, Event: "msg", Message: "x"}},
		{name: "web_pipe2 webauth", frame: "web_pipe2\nwebauth_chat\n\n*\n", want: cppcomet.WebPipe{Pipe: "webauth_chat"}},
		{name: "web_pipe2 other pipe", frame: "web_pipe2\nchat\nmsg\n*\nx", err: "[pipe_msg2] Invalid channel name. The channel should begin with web_"},
		{name: "web_pipe2 @webauth", frame: "web_pipe2\n@webauth_chat\nmsg\n*\nx", err: "[pipe_msg2] Invalid channel name. The channel should begin with web_"},
		{name: "web_pipe2 bad pipe", frame: "web_pipe2\nweb_a.b\nmsg\n*\nx", err: "The channel name can only contain characters A-Za-z0-9_-"},
		{name: "web_pipe2 long pipe", frame: "web_pipe2\nweb_" + long + "\nmsg\n*\nx", err: "Invalid pipe name length"},
		{name: "web_pipe2 64-byte pipe", frame: "web_pipe2\nweb_" + long[:60] + "\nmsg\n*\nx", want: cppcomet.WebPipe{Pipe: "web_" + long[:60], Event: "msg", Message: "x"}},
		{name: "web_pipe2 bad event", frame: "web_pipe2\nweb_a\nm/sg\n*\nx", err: "The event name can only contain characters A-Za-z0-9_-"},
		{name: "web_pipe2 long event", frame: "web_pipe2\nweb_a\n" + strings.Repeat("e", 65) + "\n*\nx", err: "Invalid event name length"},
		{name: "web_pipe2 auth type", frame: "web_pipe2\nweb_a\nmsg\n**\nx", err: "Invalid value auth_type"},
		{name: "web_pipe2 truncated", frame: "web_pipe2\nweb_a\nmsg\n*", err: "Invalid value auth_type"},
		{name: "pipe_log", frame: "pipe_log\nweb_a\nm123\n", want: cppcomet.PipeLog{Pipe: "web_a", Marker: "m123"}},
		{name: "pipe_log any pipe", frame: "pipe_log\nhistory\nm", want: cppcomet.PipeLog{Pipe: "history", Marker: "m"}},
		{name: "pipe_log no marker", frame: "pipe_log\nweb_a", want: cppcomet.PipeLog{Pipe: "web_a"}},
		{name: "pipe_log empty pipe", frame: "pipe_log\n\nm\n", err: "Invalid pipe name."},
		{name: "pipe_log bad marker", frame: "pipe_log\nweb_a\nm m\n", err: "Invalid marker value."},
		{name: "pipe_count", frame: "pipe_count\nweb_a\nm1\n", want: cppcomet.PipeCount{Pipe: "web_a", Marker: "m1"}},
		{name: "pipe_count track", frame: "pipe_count\ntrack_a\nm1\n", want: cppcomet.PipeCount{Pipe: "track_a", Marker: "m1"}},
		{name: "pipe_count other", frame: "pipe_count\nchat\nm1\n", err: "[pipe_count] Invalid channel name. The channel should start with web_"},
		{name: "track_pipe_users", frame: "track_pipe_users\ntrack_a\nm1", want: cppcomet.TrackPipeUsers{Pipe: "track_a", Marker: "m1"}},
		{name: "track_pipe_users other", frame: "track_pipe_users\nweb_a\nm1", err: "[track_pipe_users] Invalid channel name. The channel should start with track_"},
		{name: "user_status", frame: "user_status\n42", want: cppcomet.UserStatus{UserID: 42}},
		{name: "user_status newline", frame: "user_status\n42\n", want: cppcomet.UserStatus{UserID: 42}},
		{name: "user_status bad", frame: "user_status\n4x", err: "Invalid user id"},
		{name: "user_status zero", frame: "user_status\n0", err: "Invalid user id"},
		{name: "user_status huge", frame: "user_status\n99999999999999999999", err: "Invalid user id"},
		{name: "user_data", frame: "user_data\nmk\n7", want: cppcomet.UserData{Marker: "mk", UserID: 7}},
		{name: "user_data bad marker", frame: "user_data\nm.k\n7", err: "Invalid marker name."},
		{name: "user_data bad id", frame: "user_data\nmk\n", err: "Invalid user id"},
		{name: "statistics", frame: "statistics\n{\"url\":1}", want: cppcomet.Ignored{Keyword: "statistics"}},
		{name: "cgi_call", frame: "cgi_call", want: cppcomet.Ignored{Keyword: "cgi_call"}},
		{name: "CometQL_call", frame: "CometQL_call\nm\ntoken", want: cppcomet.Ignored{Keyword: "CometQL_call"}},
		{name: "prefix match", frame: "subscriptionXweb_a", want: cppcomet.Subscription{Pipes: []string{"web_a"}}},
		{name: "unknown", frame: "publish\nweb_a", err: "unknown"},
		{name: "empty frame", frame: "", err: "unknown"},
		{name: "case matters", frame: "Subscription\nweb_a", err: "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cppcomet.ParseCommand([]byte(tt.frame))
			if tt.err == "unknown" {
				if !errors.Is(err, cppcomet.ErrUnknownCommand) {
					t.Fatalf("err = %v, want ErrUnknownCommand", err)
				}
				return
			}
			if tt.err != "" {
				var perr *cppcomet.ProtocolError
				if !errors.As(err, &perr) || perr.Text != tt.err || perr.Close != tt.close {
					t.Fatalf("err = %#v, want %q (close %v)", err, tt.err, tt.close)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(normalizeCmd(got), normalizeCmd(tt.want)) {
				t.Fatalf("command = %#v, want %#v", got, tt.want)
			}
		})
	}
}

// normalizeCmd makes a nil and an empty pipe list compare equal.
func normalizeCmd(c cppcomet.Command) cppcomet.Command {
	if s, ok := c.(cppcomet.Subscription); ok && len(s.Pipes) == 0 {
		s.Pipes = nil
		return s
	}
	return c
}

func TestParseSubscriptionLimit(t *testing.T) {
	names := make([]string, 40)
	for i := range names {
		names[i] = fmt.Sprintf("web_%02d", i)
	}
	got, err := cppcomet.ParseCommand([]byte("subscription\n" + strings.Join(names, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	sub := got.(cppcomet.Subscription)
	if len(sub.Pipes) != cppcomet.MaxSubscriptions || !sub.TooMany || sub.Pipes[31] != "web_31" {
		t.Fatalf("subscription = %d pipes (too many %v), want the first 32 and TooMany", len(sub.Pipes), sub.TooMany)
	}
}
