package nkservice_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/switchboard-hub/switchboard/bridge/nkservice"
)

// FuzzParse: the request decoder never panics, and what it accepts is
// consistent: a request has class and cmd, a tid that is a JSON number or
// string, and an object as data.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"class":"core","subclass":"user","cmd":"login","data":{"user":"a","password":"b"},"tid":1}`,
		`{"class":"core","cmd":"event","tid":"x"}`,
		`{"result":"ok","tid":3,"data":{"a":[1]}}`,
		`{"result":"error","tid":3,"data":{"code":1,"error":"e"}}`,
		`{"ack":5}`,
		`{"class":7,"cmd":"x","tid":1}`,
		`{"class":"c","cmd":"x","tid":1,"data":[]}`,
		`{"class":"core","subclass":"event","cmd":"subscribe","data":{"class":"a","x":1,"b":2},"tid":1}`,
		`{`, `[]`, `null`, `{"tid":{}}`, `{"ack":"` + string(make([]byte, 200)) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := nkservice.Parse(b)
		var re *nkservice.RequestError
		if errors.As(err, &re) && !json.Valid(re.TID) {
			t.Fatalf("request error with invalid tid %q", re.TID)
		}
		if err != nil {
			return
		}
		if !json.Valid(fr.TID) {
			t.Fatalf("tid %q is not JSON", fr.TID)
		}
		if fr.Kind == nkservice.KindRequest {
			if fr.Class == "" || fr.Cmd == "" || fr.Subclass == "" {
				t.Fatalf("request without names: %+v", fr)
			}
			if len(fr.Data) == 0 || fr.Data[0] != '{' || !json.Valid(fr.Data) {
				t.Fatalf("request data %q", fr.Data)
			}
			// Unknown keys are keys of data, sorted, without repeats.
			var m map[string]json.RawMessage
			_ = json.Unmarshal(fr.Data, &m)
			unknown := nkservice.UnknownFields(fr.Subclass, fr.Cmd, fr.Data)
			for i, k := range unknown {
				if _, ok := m[k]; !ok || (i > 0 && unknown[i-1] >= k) {
					t.Fatalf("unknown fields %q of %s", unknown, fr.Data)
				}
			}
		}
	})
}
