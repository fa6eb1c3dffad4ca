package hub

import (
	"testing"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

func TestParseMeta(t *testing.T) {
	cases := []struct {
		in   string
		keys int
		ok   bool
	}{
		{"", 0, true},
		{`{"a":"x","b":2}`, 2, true},
		{`{}`, 0, true},
		{`[1]`, 0, false},
		{`{"a":{"nested":1}}`, 0, false},
		{`{"a":true}`, 0, false},
		{`{"a":null}`, 0, false},
		{`{`, 0, false},
	}
	for _, tc := range cases {
		m, err := parseMeta(tc.in)
		if (err == nil) != tc.ok || len(m) != tc.keys {
			t.Errorf("parseMeta(%q) = %v, %v", tc.in, m, err)
		}
	}
}

func TestWithoutDirectory(t *testing.T) {
	in := []*pb.ChannelSummary{{Channel: "a"}, {Channel: DirectoryChannel}, {Channel: "b"}, {Channel: "c"}}
	got := withoutDirectory(in, 2)
	if len(got) != 2 || got[0].Channel != "a" || got[1].Channel != "b" {
		t.Fatalf("withoutDirectory = %v", got)
	}
	if got := withoutDirectory([]*pb.ChannelSummary{{Channel: DirectoryChannel}}, 5); len(got) != 0 {
		t.Fatalf("only the directory: %v", got)
	}
}

func TestSyslogLevel(t *testing.T) {
	for l, want := range map[int32]string{0: "ERROR", 1: "ERROR", 3: "ERROR", 4: "WARN", 5: "INFO", 6: "INFO", 7: "DEBUG"} {
		if got := syslogLevel(l).String(); got != want {
			t.Errorf("syslogLevel(%d) = %s, want %s", l, got, want)
		}
	}
}
