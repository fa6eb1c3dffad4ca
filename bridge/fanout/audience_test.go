package fanout_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/switchboard-hub/switchboard/bridge/fanout"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/access"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
)

// readerSink is a recSink that reads on behalf of someone.
type readerSink struct {
	*recSink
	r access.Reader
}

func (s readerSink) ReadsAs() access.Reader { return s.r }

// TestAudienceAgainstRealServer: sinks of one shared stream get only the
// events the core's audience admits them to, and a sink that may read none
// of the channels a request names is refused.
func TestAudienceAgainstRealServer(t *testing.T) {
	srv := apptest.Start(t, nil)
	ctx := ctxTimeout(t)
	f := fanout.New(srv.Hub, fanout.Options{})
	enc := &countingEncoder{}

	t.Run("per event", func(t *testing.T) {
		filters := []*pb.Filter{{}} // every channel of the default tenant
		sinks := map[string]*recSink{}
		for name, r := range map[string]access.Reader{
			"server":   access.ServerReader,
			"guest":    {},
			"claims":   {User: "42"},
			"u42":      {User: "42", Authenticated: true},
			"u43":      {User: "43", Authenticated: true},
			"no-iface": {}, // replaced below by a plain recSink
		} {
			var sink fanout.Sink = readerSink{newRecSink(), r}
			rec := sink.(readerSink).recSink
			if name == "no-iface" {
				rec = newRecSink()
				sink = rec
			}
			sinks[name] = rec
			cancel, err := f.Subscribe(ctx, "aud", fanout.FilterSetKey(filters), &pb.SubscribeRequest{Filters: filters}, enc.encode, sink)
			if err != nil {
				t.Fatalf("subscribe %s: %v", name, err)
			}
			t.Cleanup(cancel)
		}
		for _, ch := range []string{"news#42", "private_p", "$p", "dialog#42,43", "open", "end"} {
			if _, err := srv.Hub.Publish(ctx, &pb.PublishRequest{Event: &pb.Event{Channel: ch, Data: "1"}}); err != nil {
				t.Fatalf("publish %s: %v", ch, err)
			}
		}
		want := map[string]string{
			"server":   "[news#42 private_p $p dialog#42,43 open end]",
			"guest":    "[open end]",
			"claims":   "[open end]",
			"no-iface": "[open end]",
			"u42":      "[news#42 private_p dialog#42,43 open end]",
			"u43":      "[private_p dialog#42,43 open end]",
		}
		for name, s := range sinks {
			var got []string
			for {
				ev, _ := s.next(t)
				got = append(got, ev.GetChannel())
				if ev.GetChannel() == "end" {
					break
				}
			}
			if fmt.Sprint(got) != want[name] {
				t.Errorf("%s got %v; want %v", name, got, want[name])
			}
		}
	})

	t.Run("refused", func(t *testing.T) {
		filters := []*pb.Filter{{Channels: []string{"news#42", "private_q"}}}
		key := fanout.FilterSetKey(filters)
		req := &pb.SubscribeRequest{Filters: filters}
		for _, r := range []access.Reader{{}, {User: "42"}} {
			if _, err := f.Subscribe(ctx, "aud", key, req, enc.encode, readerSink{newRecSink(), r}); !errors.Is(err, fanout.ErrNotReadable) {
				t.Errorf("reader %+v: err = %v; want ErrNotReadable", r, err)
			}
		}
		for _, r := range []access.Reader{access.ServerReader, {User: "43", Authenticated: true}} {
			cancel, err := f.Subscribe(ctx, "aud", key, req, enc.encode, readerSink{newRecSink(), r})
			if err != nil {
				t.Errorf("reader %+v: %v", r, err)
				continue
			}
			cancel()
		}
	})
}
