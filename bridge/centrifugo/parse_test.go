package centrifugo_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/switchboard-hub/switchboard/bridge/centrifugo"
)

func TestDecodeCommands(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []centrifugo.Command
	}{
		{
			name: "single publish keeps data bytes",
			body: `{"method":"publish","params":{"channel":"news","data":{"input": "hello" },"client":"c1","uid":"m1"},"uid":"r1"}`,
			want: []centrifugo.Command{{UID: "r1", Method: "publish", Params: &centrifugo.PublishParams{
				Channel: "news", Data: []byte(`{"input": "hello" }`), Client: "c1", UID: "m1"}}},
		},
		{
			name: "null data is data",
			body: `{"method":"publish","params":{"channel":"news","data":null}}`,
			want: []centrifugo.Command{{Method: "publish", Params: &centrifugo.PublishParams{Channel: "news", Data: []byte("null")}}},
		},
		{
			name: "batch in order",
			body: `[{"method":"broadcast","params":{"channels":["a","b"],"data":1}},{"method":"unsubscribe","params":{"channel":"a","user":"42"}},{"method":"disconnect","params":{"user":"42"}}]`,
			want: []centrifugo.Command{
				{Method: "broadcast", Params: &centrifugo.BroadcastParams{Channels: []string{"a", "b"}, Data: []byte("1")}},
				{Method: "unsubscribe", Params: &centrifugo.UnsubscribeParams{Channel: "a", User: "42"}},
				{Method: "disconnect", Params: &centrifugo.DisconnectParams{User: "42"}},
			},
		},
		{
			name: "presence and history",
			body: `[{"method":"presence","params":{"channel":"c"}},{"method":"history","params":{"channel":"c"}}]`,
			want: []centrifugo.Command{
				{Method: "presence", Params: &centrifugo.ChannelParams{Channel: "c"}},
				{Method: "history", Params: &centrifugo.ChannelParams{Channel: "c"}},
			},
		},
		{
			name: "params ignored for channels stats node",
			body: `[{"method":"channels","params":[1,2]},{"method":"stats"},{"method":"node","params":"x"}]`,
			want: []centrifugo.Command{{Method: "channels"}, {Method: "stats"}, {Method: "node"}},
		},
		{
			name: "encoding/json leniency: unknown and case-folded keys",
			body: `{"Method":"disconnect","params":{"USER":"7","extra":true},"other":1}`,
			want: []centrifugo.Command{{Method: "disconnect", Params: &centrifugo.DisconnectParams{User: "7"}}},
		},
		{
			name: "null params decode to zero values",
			body: `{"method":"unsubscribe","params":null}`,
			want: []centrifugo.Command{{Method: "unsubscribe", Params: &centrifugo.UnsubscribeParams{}}},
		},
		{
			name: "empty array",
			body: `[]`,
			want: []centrifugo.Command{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := centrifugo.DecodeCommands([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeCommands: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDecodeCommandsErrors(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		kind  error
		index int
	}{
		{"empty", ``, centrifugo.ErrInvalidMessage, 0},
		{"leading space", ` {"method":"stats"}`, centrifugo.ErrInvalidMessage, 0},
		{"not an object", `"publish"`, centrifugo.ErrInvalidMessage, 0},
		{"truncated", `{"method":"stats"`, centrifugo.ErrInvalidMessage, 0},
		{"trailing garbage", `{"method":"stats"}x`, centrifugo.ErrInvalidMessage, 0},
		{"method not a string", `{"method":1}`, centrifugo.ErrInvalidMessage, 0},
		{"uid not a string", `{"method":"stats","uid":5}`, centrifugo.ErrInvalidMessage, 0},
		{"unknown method", `{"method":"Publish","params":{}}`, centrifugo.ErrMethodNotFound, 0},
		{"missing method", `{"params":{}}`, centrifugo.ErrMethodNotFound, 0},
		{"publish without params", `{"method":"publish"}`, centrifugo.ErrInvalidMessage, 0},
		{"publish without channel", `{"method":"publish","params":{"data":{}}}`, centrifugo.ErrInvalidMessage, 0},
		{"publish without data", `{"method":"publish","params":{"channel":"c"}}`, centrifugo.ErrInvalidMessage, 0},
		{"channel not a string", `{"method":"presence","params":{"channel":1}}`, centrifugo.ErrInvalidMessage, 0},
		{"params not an object", `{"method":"history","params":[]}`, centrifugo.ErrInvalidMessage, 0},
		{"channels not a list", `{"method":"broadcast","params":{"channels":"a","data":1}}`, centrifugo.ErrInvalidMessage, 0},
		{"bad second command", `[{"method":"stats"},{"method":"nope"}]`, centrifugo.ErrMethodNotFound, 1},
		{"array item not an object", `[{"method":"stats"},1]`, centrifugo.ErrInvalidMessage, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, err := centrifugo.DecodeCommands([]byte(tt.body))
			if err == nil {
				t.Fatalf("decoded %#v, want error", cmds)
			}
			var pe *centrifugo.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			if !errors.Is(err, tt.kind) {
				t.Fatalf("error %v is not %v", err, tt.kind)
			}
			if pe.Index != tt.index {
				t.Fatalf("index %d, want %d", pe.Index, tt.index)
			}
		})
	}
}

func TestDecodeQueueItem(t *testing.T) {
	publish := centrifugo.Command{Method: "publish", Params: &centrifugo.PublishParams{Channel: "c", Data: []byte(`{"x":1}`)}}
	tests := []struct {
		name    string
		item    string
		want    []centrifugo.Command
		wantErr bool
	}{
		{"single command", `{"method":"publish","params":{"channel":"c","data":{"x":1}}}`, []centrifugo.Command{publish}, false},
		{"pre-1.6 envelope", `{"data":[{"method":"publish","params":{"channel":"c","data":{"x":1}}},{"method":"disconnect","params":{"user":"1"}}]}`,
			[]centrifugo.Command{publish, {Method: "disconnect", Params: &centrifugo.DisconnectParams{User: "1"}}}, false},
		{"pre-1.6 envelope keeps good commands", `{"data":[{"method":"nope"},{"method":"publish","params":{"channel":"c","data":{"x":1}}}]}`,
			[]centrifugo.Command{publish}, true},
		{"array item", `[{"method":"publish","params":{"channel":"c","data":1}}]`, nil, true},
		{"garbage", `nope`, nil, true},
		{"empty", ``, nil, true},
		{"unknown method", `{"method":"nope"}`, nil, true},
		{"object without method", `{"data":{"x":1}}`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := centrifugo.DecodeQueueItem([]byte(tt.item))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}
