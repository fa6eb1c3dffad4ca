package redis

import (
	"cmp"
	"strings"
	"testing"
)

func TestNamesDoNotCollide(t *testing.T) {
	n := newNames("p")
	pairs := [][2]string{{"a.b", "c"}, {"a", "b.c"}, {"1:a", "b"}, {"", "1:ab"}, {"a:b", "c"}, {"a", "b:c"}}
	seen := map[string][2]string{}
	for _, p := range pairs {
		for _, name := range []string{n.event(p[0], p[1]), n.histMeta(p[0], p[1]), member(p[0], p[1])} {
			if prev, ok := seen[name]; ok {
				t.Fatalf("%q and %q both map to %q", prev, p, name)
			}
			seen[name] = p
		}
	}
}

func TestGlobEscape(t *testing.T) {
	cases := map[string]string{
		"plain":    "plain",
		"a*b?c":    `a\*b\?c`,
		"[x]":      `\[x\]`,
		`back\`:    `back\\`,
		"^caret":   `\^caret`,
		"dots.ok.": "dots.ok.",
	}
	for in, want := range cases {
		if got := globEscape(in); got != want {
			t.Errorf("globEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

// compareKey is the order Channels must list in.
func compareKey(a, b [2]string) int {
	return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
}

func TestMemberOrderAndRoundTrip(t *testing.T) {
	keys := [][2]string{
		{"", "z"}, {"a", "b"}, {"a", ""}, {"a\x00", "a"}, {"a\x01", "a"}, {"a\x00\x01", ""}, {"a.b", "a"},
		{"ab", "\x00"}, {"a", "\xff"}, {"\xff", ""}, {"b", "a\x00b"}, {"a\x02", "x"},
	}
	for _, a := range keys {
		tenant, channel, err := parseMember(member(a[0], a[1]))
		if err != nil || tenant != a[0] || channel != a[1] {
			t.Fatalf("parseMember(member(%q)) = %q, %q, %v", a, tenant, channel, err)
		}
		for _, b := range keys {
			want := compareKey(a, b)
			if got := strings.Compare(member(a[0], a[1]), member(b[0], b[1])); got != want {
				t.Errorf("members of %q and %q compare %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestLexRange(t *testing.T) {
	cases := []struct {
		prefix string
		in     []string
		out    []string
	}{
		{"ab", []string{"ab", "abc", "ab\xff\xff"}, []string{"a", "aa\xff", "ac", "b"}},
		{"a\xff", []string{"a\xff", "a\xff\xff\x00"}, []string{"a", "b", "a\xfe"}},
		{"", []string{"", "x", "\xff"}, nil},
	}
	for _, c := range cases {
		lo, hi := lexRange(c.prefix)
		inRange := func(s string) bool {
			return s >= lo[1:] && (hi == "+" || s < hi[1:])
		}
		for _, s := range c.in {
			if !inRange(s) {
				t.Errorf("prefix %q: %q should be in [%q, %q)", c.prefix, s, lo, hi)
			}
		}
		for _, s := range c.out {
			if inRange(s) {
				t.Errorf("prefix %q: %q should be outside [%q, %q)", c.prefix, s, lo, hi)
			}
		}
	}
}

func FuzzMember(f *testing.F) {
	f.Add("t", "c", "t2", "c2")
	f.Add("a\x00", "b", "a", "\x00b")
	f.Add("\x01\x02", "", "\x01", "\x02")
	f.Fuzz(func(t *testing.T, t1, c1, t2, c2 string) {
		m1, m2 := member(t1, c1), member(t2, c2)
		tenant, channel, err := parseMember(m1)
		if err != nil || tenant != t1 || channel != c1 {
			t.Fatalf("round trip of %q/%q gave %q/%q, %v", t1, c1, tenant, channel, err)
		}
		if got, want := strings.Compare(m1, m2), compareKey([2]string{t1, c1}, [2]string{t2, c2}); got != want {
			t.Fatalf("order of %q/%q vs %q/%q: %d, want %d", t1, c1, t2, c2, got, want)
		}
	})
}

func FuzzParseMember(f *testing.F) {
	f.Add("t\x00c")
	f.Add("\x01")
	f.Add("\x01\x03\x00")
	f.Fuzz(func(t *testing.T, m string) {
		tenant, channel, err := parseMember(m)
		if err == nil && member(tenant, channel) != m {
			t.Fatalf("parseMember(%q) = %q/%q, which encodes differently", m, tenant, channel)
		}
	})
}
