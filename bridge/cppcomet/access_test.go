package cppcomet_test

import (
	"fmt"
	"strings"
	"testing"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// TestReadRules runs every read command for three connections: a guest
// that claims user 42 with a wrong user_key ("authorized":false), another
// logged-in user (43) and the user (42). The core's rules decide: private_
// pipes are for logged-in users (comet pipe names cannot hold the "#" of
// user-limited channels, so any logged-in user is admitted), and user data
// and status are public within a dev, as CometServerApi.js getUserData and
// user_status read any user's.
func TestReadRules(t *testing.T) {
	s := start(t, nil)
	s.publish(t, &pb.Event{Channel: "private_p1", Name: "e", Data: `"m1"`})
	if _, err := s.users.SetUserData(ctxT(t), &pb.SetUserDataRequest{User: "42", Data: "about 42"}); err != nil {
		t.Fatal(err)
	}
	owner := s.login(t, 42, 0, "owner")
	other := s.login(t, 43, 0, "other")
	guest := s.dial(t, cometPath("wrong-key", 42, 0, "4.08", "guest"), false)
	readers := map[string]*client{"guest": guest, "other": other, "owner": owner}

	t.Run("pipe_log", func(t *testing.T) {
		for name, c := range readers {
			c.send("pipe_log\nprivate_p1\nm1\n")
			f := c.readNorm()
			switch name {
			case "guest":
				if f != `{"data":{"error":"Access denied","number_messages":-1},"event":"error","message_send_time":0,"pipe":"sys"}` {
					t.Errorf("guest pipe_log: %s; want Access denied", f)
				}
			default:
				if !strings.Contains(f, `"data":"m1"`) || !strings.Contains(f, `"pipe":"private_p1"`) {
					t.Errorf("%s pipe_log: %s; want m1", name, f)
				}
			}
			c.sync()
		}
	})

	t.Run("subscription", func(t *testing.T) {
		// The guest's private pipe is skipped silently; the pipe after it
		// still counts.
		guest.subscribe("private_p1", "web_after")
		owner.subscribe("private_p1")
		other.subscribe("private_p1")
		r, err := s.Hub.Presence(ctxT(t), &pb.PresenceRequest{Channel: "private_p1"})
		if err != nil {
			t.Fatal(err)
		}
		var in []string
		for _, sess := range r.GetSessions() {
			in = append(in, sess.GetUser())
		}
		if len(in) != 2 || strings.Contains(fmt.Sprint(in), `""`) {
			t.Errorf("presence of private_p1: users %q; want 42 and 43 only", in)
		}
		s.publish(t, &pb.Event{Channel: "private_p1", Name: "e", Data: `"live"`})
		s.publish(t, &pb.Event{Channel: "web_after", Name: "e", Data: `"public"`})
		if f := guest.readNorm(); !strings.Contains(f, `"data":"public"`) {
			t.Errorf("guest got %s; want only the public message", f)
		}
		for _, c := range []*client{owner, other} {
			if f := c.readNorm(); !strings.Contains(f, `"data":"live"`) {
				t.Errorf("logged-in user got %s; want the private message", f)
			}
		}
		for _, c := range readers {
			c.subscribe()
		}
	})

	// pipe_count and track_pipe_users take web_ and track_ pipes only, which
	// no rule limits: a private pipe cannot be named, whoever asks.
	t.Run("pipe_count and track_pipe_users", func(t *testing.T) {
		for name, c := range readers {
			for _, cmd := range []string{"pipe_count\nprivate_p1\nc\n", "track_pipe_users\nprivate_p1\nc"} {
				c.send(cmd)
				if f := c.readNorm(); !strings.Contains(f, `"event":"error"`) || !strings.Contains(f, "Invalid channel name") {
					t.Errorf("%s %q: %s; want the prefix error", name, strings.Fields(cmd)[0], f)
				}
			}
			c.send("pipe_count\nweb_after\nc\n")
			if f := c.readNorm(); !strings.Contains(f, `"user_in_pipe"`) {
				t.Errorf("%s pipe_count web_after: %s", name, f)
			}
			c.send("track_pipe_users\ntrack_x\nc")
			if f := c.readNorm(); !strings.Contains(f, `"data":[]`) {
				t.Errorf("%s track_pipe_users track_x: %s", name, f)
			}
		}
	})

	t.Run("user_data and user_status", func(t *testing.T) {
		for name, c := range readers {
			c.send("user_data\nd\n42")
			if f := c.readNorm(); !strings.Contains(f, `"user_data":"about 42"`) {
				t.Errorf("%s user_data 42: %s", name, f)
			}
			c.send("user_status\n42")
			if f := c.readNorm(); !strings.Contains(f, `"event":"user_status_42"`) || !strings.Contains(f, `"data":0`) {
				t.Errorf("%s user_status 42: %s; want online", name, f)
			}
		}
	})
}
