package wsconn

import "testing"

// FuzzOriginRule: any Origin header and Host are judged without a panic;
// no Origin and "*" always pass, and an origin equal to the Host passes.
func FuzzOriginRule(f *testing.F) {
	for _, s := range []string{"http://a.example", "https://a.example:8443", "a.example", "", "http://[::1]:80", "%zz", "http://[bad"} {
		f.Add(s, "a.example", "*.example")
	}
	f.Fuzz(func(t *testing.T, origin, host, pattern string) {
		err := originRule(origin, host, []string{pattern})
		if origin == "" && err != nil {
			t.Fatalf("no Origin refused: %v", err)
		}
		if originRule(origin, host, []string{pattern, "*"}) != nil {
			t.Fatalf("origin %q refused with *", origin)
		}
	})
}
