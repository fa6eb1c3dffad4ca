package centrifugo

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

var fastSeeds = []string{
	`{"method":"publish","params":{"channel":"news","data":{"input":"hello"}}}`,
	`[{"method":"publish","params":{"channel":"news","data":{"content":"1"}}},{"method":"publish","params":{"channel":"news","data":{"content":"2"}},"uid":"2"}]`,
	`[ {"uid":"a","method":"publish","params":{"uid":"x","client":"c","channel":"n","data":[1,{"a":"}"}],"data":"\"]"}} , {"method":"stats"} ]`,
	`{"method":"publish","params":{"channel":"c","data":null}}`,
	`{"method":"publish","params":{"channel":"c","data":12.5e3,"extra":{"x":[]}}}`,
	`{"method":"publish","params":{"Channel":"c","data":1}}`,
	`{"method":"publish","params":{"channel":"c\u0041","data":1}}`,
	`{"method":"publish","params":{"channel":"c","channel":"d","data":1,"data":true}}`,
	`{"method":"publish","params":{"channel":null,"data":1}}`,
	`{"method":"publish","params":{"channel":5,"data":1}}`,
	`{"method":"publish","params":null}`,
	`{"method":"publish"}`,
	`{"Method":"publish","params":{"channel":"c","data":1}}`,
	`{"method":"publiſh","params":{"channel":"c","data":1}}`,
	`{"method":"history","params":{"channel":"news#42"}}`,
	`{"method":"broadcast","params":{"channels":["a","b"],"data":null,"client":"c"},"uid":"u"}`,
	`{"method":"nope"}`,
	`[null]`, `[]`, `[1]`, `{}`, `[{}]`, `{"method":"stats"} x`, `{"method":"stats",}`,
	`{"method":"node","params":null,"uid":null}`,
	`{"ſtuff":1,"method":"channels"}`,
}

// FuzzDecodeFast holds the fast path to encoding/json's answer: whenever
// decodeFast decodes a body, decodeSlow decodes it to the same commands.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) == 0 || !utf8.Valid(body) || (body[0] != '{' && body[0] != '[') {
			return
		}
		fast, ok := decodeFast(body)
		if !ok {
			return
		}
		slow, err := decodeSlow(body)
		if err != nil {
			t.Fatalf("fast path decoded %q, encoding/json refused it: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %#v\nslow %#v", body, fast, slow)
		}
	})
}

// TestDecodeFastTakesPlainBatches: the bodies API clients send take the fast
// path.
func TestDecodeFastTakesPlainBatches(t *testing.T) {
	for _, body := range fastSeeds[:5] {
		if _, ok := decodeFast([]byte(body)); !ok {
			t.Errorf("%s: not decoded by the fast path", body)
		}
	}
}

// BenchmarkDecodeCommands decodes a 100-command publish batch with the
// fast path (as DecodeCommands does) and with encoding/json alone.
func BenchmarkDecodeCommands(b *testing.B) {
	body := []byte{'['}
	for i := range 100 {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, `{"method":"publish","params":{"channel":"load-`...)
		body = append(body, byte('0'+i%10))
		body = append(body, `","data":{"text":"hello, publish path","n":12345}}}`...)
	}
	body = append(body, ']')
	for _, c := range []struct {
		name   string
		decode func([]byte) ([]Command, error)
	}{{"fast", DecodeCommands}, {"encoding-json", decodeSlow}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if cmds, err := c.decode(body); err != nil || len(cmds) != 100 {
					b.Fatal(len(cmds), err)
				}
			}
		})
	}
}
