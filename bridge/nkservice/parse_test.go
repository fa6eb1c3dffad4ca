package nkservice_test

import (
	"errors"
	"testing"

	"github.com/switchboard-hub/switchboard/bridge/nkservice"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in                        string
		kind                      nkservice.Kind
		class, subclass, cmd, tid string
		data                      string
		err                       error
	}{
		{in: `{"class":"core","cmd":"list","tid":1}`, kind: nkservice.KindRequest, class: "core", subclass: "core", cmd: "list", tid: "1", data: "{}"},
		{in: `{"class":"core","subclass":"user","cmd":"get","data":{"user":"u"},"tid":"t 1"}`, kind: nkservice.KindRequest, class: "core", subclass: "user", cmd: "get", tid: `"t 1"`, data: `{"user":"u"}`},
		{in: `{"class":"core","cmd":"x","data":null,"tid":-2.5}`, kind: nkservice.KindRequest, class: "core", subclass: "core", cmd: "x", tid: "-2.5", data: "{}"},
		{in: `{"result":"ok","tid":3}`, kind: nkservice.KindReply, tid: "3"},
		{in: `{"ack": 4 }`, kind: nkservice.KindAck, tid: "4"},
		{in: `{"Class":"core","cmd":"x","tid":1}`, err: nkservice.ErrNoEnvelope}, // keys are case-sensitive
		{in: `{"class":"core","cmd":"x"}`, err: nkservice.ErrNoEnvelope},
		{in: `{"class":"core","cmd":"x","tid":true}`, err: nkservice.ErrBadTID},
		{in: `{"class":"","cmd":"x","tid":1}`, err: nkservice.ErrBadRequest},
		{in: `{"class":"c","cmd":"x","data":"s","tid":1}`, err: nkservice.ErrBadRequest},
		{in: `{"result":1,"tid":1}`, err: nkservice.ErrBadRequest},
		{in: `nope`, err: nkservice.ErrNotJSON},
		{in: `"str"`, err: nkservice.ErrNotJSON},
	}
	for _, tc := range cases {
		f, err := nkservice.Parse([]byte(tc.in))
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: err %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || f.Kind != tc.kind || f.Class != tc.class || f.Subclass != tc.subclass || f.Cmd != tc.cmd ||
			string(f.TID) != tc.tid || (tc.data != "" && string(f.Data) != tc.data) {
			t.Errorf("%s: got %+v (data %s, tid %s), %v", tc.in, f, f.Data, f.TID, err)
		}
	}
}

// TestParseOKFastPath: the compact event answer and its general decoding
// agree.
func TestParseOKFastPath(t *testing.T) {
	for _, in := range []string{`{"result":"ok","tid":7}`, `{"result":"ok","tid":123456789}`, `{"result":"ok", "tid":7}`, `{"result":"ok","tid":07}`, `{"result":"ok","tid":}`} {
		f, err := nkservice.Parse([]byte(in))
		switch in {
		case `{"result":"ok","tid":07}`, `{"result":"ok","tid":}`:
			if err == nil {
				t.Errorf("%s accepted", in)
			}
		default:
			if err != nil || f.Kind != nkservice.KindReply || f.Result != "ok" || f.Data != nil {
				t.Errorf("%s: %+v, %v", in, f, err)
			}
		}
	}
}
