package centrifugo_test

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/switchboard-hub/switchboard/bridge/centrifugo"
)

var fuzzSeeds = []string{
	`{"method":"publish","params":{"channel":"news","data":{"input":"hello"}}}`,
	`[{"method":"publish","params":{"channel":"news","data":{"content":"1"}}},{"method":"publish","params":{"channel":"news","data":{"content":"2"}}}]`,
	`{"method":"broadcast","params":{"channels":["a","b"],"data":null,"client":"c"},"uid":"u"}`,
	`{"method":"unsubscribe","params":{"channel":"","user":"42"}}`,
	`{"method":"disconnect","params":{"user":"42"}}`,
	`{"method":"presence","params":{"channel":"$public:chat"}}`,
	`{"method":"history","params":{"channel":"news#42"}}`,
	`{"method":"channels","params":{}}`,
	`{"method":"stats"}`,
	`{"method":"node","params":null}`,
	`{"data":[{"method":"publish","params":{"channel":"c","data":1}}]}`,
	` {"method":"stats"}`,
	`[`,
	`{"method":"publish","params":{"channel":"c","data":"\ud800"}}`,
	``,
}

// FuzzDecodeCommands: any body decodes to commands or a *ParseError, never
// a panic, and decoded commands are well-formed.
func FuzzDecodeCommands(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cmds, err := centrifugo.DecodeCommands(body)
		if err != nil {
			var pe *centrifugo.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			if !errors.Is(err, centrifugo.ErrInvalidMessage) && !errors.Is(err, centrifugo.ErrMethodNotFound) {
				t.Fatalf("error %v has no kind", err)
			}
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("accepted a body that is not UTF-8: %q", body)
		}
		for _, c := range cmds {
			checkCommand(t, c)
		}
	})
}

// FuzzDecodeQueueItem does the same for Redis queue items.
func FuzzDecodeQueueItem(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, item []byte) {
		cmds, _ := centrifugo.DecodeQueueItem(item)
		for _, c := range cmds {
			checkCommand(t, c)
		}
	})
}

func checkCommand(t *testing.T, c centrifugo.Command) {
	t.Helper()
	switch p := c.Params.(type) {
	case *centrifugo.PublishParams:
		if c.Method != "publish" || p.Channel == "" || len(p.Data) == 0 {
			t.Fatalf("bad publish %#v", c)
		}
	case *centrifugo.BroadcastParams:
		if c.Method != "broadcast" {
			t.Fatalf("bad broadcast %#v", c)
		}
	case *centrifugo.UnsubscribeParams:
		if c.Method != "unsubscribe" {
			t.Fatalf("bad unsubscribe %#v", c)
		}
	case *centrifugo.DisconnectParams:
		if c.Method != "disconnect" {
			t.Fatalf("bad disconnect %#v", c)
		}
	case *centrifugo.ChannelParams:
		if c.Method != "presence" && c.Method != "history" {
			t.Fatalf("bad channel command %#v", c)
		}
	case nil:
		if c.Method != "channels" && c.Method != "stats" && c.Method != "node" {
			t.Fatalf("command %q without params", c.Method)
		}
	default:
		t.Fatalf("unexpected params %T", p)
	}
}
