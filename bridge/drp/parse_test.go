package drp_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/switchboard-hub/switchboard/bridge/drp"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		frame  string
		verb   drp.Verb
		filter string
		err    bool
	}{
		{frame: "register profiles.*.*", verb: drp.Register, filter: "profiles.*.*"},
		{frame: "deregister profiles.*.*", verb: drp.Deregister, filter: "profiles.*.*"},
		{frame: "  register machines.update.a.b.c \r\n", verb: drp.Register, filter: "machines.update.a.b.c"},
		// Split at the first space only; the rest is kept verbatim.
		{frame: "register  a.b.c", verb: drp.Register, filter: " a.b.c"},
		{frame: "register a.b.c d", verb: drp.Register, filter: "a.b.c d"},
		{frame: "register machines", verb: drp.Register, filter: "machines"},
		// Ignored frames.
		{frame: "", err: true},
		{frame: "register", err: true},
		{frame: "register ", err: true},
		{frame: "register\tprofiles.*.*", err: true},
		{frame: "Register profiles.*.*", err: true},
		{frame: "REGISTER profiles.*.*", err: true},
		{frame: "subscribe profiles.*.*", err: true},
		{frame: "hello", err: true},
	}
	for _, tt := range tests {
		cmd, err := drp.ParseCommand([]byte(tt.frame))
		if tt.err {
			if !errors.Is(err, drp.ErrNotCommand) {
				t.Fatalf("ParseCommand(%q) = %+v, %v; want ErrNotCommand", tt.frame, cmd, err)
			}
			continue
		}
		if err != nil || cmd.Verb != tt.verb || cmd.Filter != tt.filter {
			t.Fatalf("ParseCommand(%q) = %+v, %v; want %v %q", tt.frame, cmd, err, tt.verb, tt.filter)
		}
	}
}

func TestVerbString(t *testing.T) {
	if drp.Register.String() != "register" || drp.Deregister.String() != "deregister" {
		t.Fatalf("verbs: %q %q", drp.Register, drp.Deregister)
	}
}

// ev is an event's three matched fields.
type ev struct{ typ, action, key string }

func TestFilterMatch(t *testing.T) {
	tests := []struct {
		filter string
		match  []ev
		miss   []ev
	}{
		{
			filter: "*.*.*",
			match:  []ev{{"profiles", "save", "global"}, {"", "", ""}, {"*", "*", "*"}},
		},
		{
			filter: "profiles.*.*",
			match:  []ev{{"profiles", "save", "global"}, {"profiles", "", ""}},
			miss:   []ev{{"machines", "save", "global"}, {"Profiles", "save", "global"}, {"profile", "save", "x"}, {"", "save", "x"}},
		},
		{
			filter: "profiles.save.global",
			match:  []ev{{"profiles", "save", "global"}},
			miss:   []ev{{"profiles", "save", "Global"}, {"profiles", "update", "global"}, {"profiles", "save", ""}},
		},
		{
			// The key is everything after the second dot.
			filter: "machines.update.a.b.c",
			match:  []ev{{"machines", "update", "a.b.c"}},
			miss:   []ev{{"machines", "update", "a"}, {"machines", "update", "a.b"}, {"machines.update", "a", "b.c"}},
		},
		{
			filter: "machines.*.10.0.0.1",
			match:  []ev{{"machines", "create", "10.0.0.1"}},
			miss:   []ev{{"machines", "create", "10"}},
		},
		{
			// Comma lists in every part.
			filter: "machines,profiles.save,update.*",
			match:  []ev{{"machines", "save", "x"}, {"profiles", "update", ""}, {"machines", "update", "y"}},
			miss:   []ev{{"jobs", "save", "x"}, {"machines", "create", "x"}, {"machines,profiles", "save", "x"}},
		},
		{
			// Alternatives are trimmed; so is a single value.
			filter: " machines , profiles .save. global",
			match:  []ev{{"machines", "save", "global"}, {"profiles", "save", "global"}},
			miss:   []ev{{" machines ", "save", "global"}, {"profiles", "save", " global"}},
		},
		{
			// Escapes: \1 = ".", \2 = ",", \3 = "*".
			filter: `my\1type.a\2b.my\1profile`,
			match:  []ev{{"my.type", "a,b", "my.profile"}},
			miss:   []ev{{"my\\1type", "a,b", "my.profile"}, {"my.type", "a", "my.profile"}, {"my.type", "b", "my.profile"}},
		},
		{
			// A "*" inside an alternative is literal.
			filter: `jobs.*.x\3,y*`,
			match:  []ev{{"jobs", "save", "x*"}, {"jobs", "save", "y*"}},
			miss:   []ev{{"jobs", "save", "x"}, {"jobs", "save", "xyz"}, {"jobs", "save", "y"}},
		},
		{
			// An alternative that is exactly "*" is the literal value "*",
			// which the core's Filter cannot express: it never matches.
			filter: `jobs.*.x,*`,
			match:  []ev{{"jobs", "save", "x"}},
			miss:   []ev{{"jobs", "save", "*"}, {"jobs", "save", "y"}},
		},
		{
			filter: `jobs.*.\3`,
			miss:   []ev{{"jobs", "save", "*"}, {"jobs", "save", "x"}, {"jobs", "save", ""}},
		},
		{
			// " * " is not the bare wildcard: it is a list of one literal "*".
			filter: "jobs.save. * ",
			miss:   []ev{{"jobs", "save", "*"}, {"jobs", "save", "anything"}},
		},
		{
			// Empty parts and empty alternatives match only "".
			filter: "jobs..",
			match:  []ev{{"jobs", "", ""}},
			miss:   []ev{{"jobs", "save", ""}, {"jobs", "", "k"}},
		},
		{
			filter: "jobs.save.a,",
			match:  []ev{{"jobs", "save", "a"}, {"jobs", "save", ""}},
			miss:   []ev{{"jobs", "save", "b"}},
		},
		{
			// Other backslashes are literal.
			filter: `jobs.save.x\4\\`,
			match:  []ev{{"jobs", "save", `x\4\\`}},
		},
		{
			filter: `jobs.save.\\1`,
			match:  []ev{{"jobs", "save", `\.`}},
		},
	}
	for _, tt := range tests {
		f, err := drp.ParseFilter(tt.filter)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", tt.filter, err)
		}
		for _, e := range tt.match {
			if !f.Match(e.typ, e.action, e.key) {
				t.Errorf("%q should match %q", tt.filter, e)
			}
		}
		for _, e := range tt.miss {
			if f.Match(e.typ, e.action, e.key) {
				t.Errorf("%q should not match %q", tt.filter, e)
			}
		}
	}
}

func TestParseFilterMalformed(t *testing.T) {
	for _, s := range []string{"", "*", "machines", "machines.save", "*.*", ".", "a,b.c"} {
		if f, err := drp.ParseFilter(s); !errors.Is(err, drp.ErrMalformedFilter) {
			t.Fatalf("ParseFilter(%q) = %+v, %v; want ErrMalformedFilter", s, f, err)
		}
	}
}

func TestParseFilterParts(t *testing.T) {
	f, err := drp.ParseFilter(`*. a , b ,a.x\2y`)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Type.Any || f.Action.Any || f.Key.Any {
		t.Fatalf("Any flags: %+v", f)
	}
	if !slices.Equal(f.Action.Values, []string{"a", "b", "a"}) || !slices.Equal(f.Key.Values, []string{"x,y"}) {
		t.Fatalf("values: %q %q", f.Action.Values, f.Key.Values)
	}
}

func TestToPB(t *testing.T) {
	tests := []struct {
		filter                string
		ok                    bool
		channels, names, keys []string
	}{
		{filter: "*.*.*", ok: true},
		{filter: "profiles.*.*", ok: true, channels: []string{"profiles"}},
		{filter: "a,b,a.save.k", ok: true, channels: []string{"a", "b"}, names: []string{"save"}, keys: []string{"k"}},
		{filter: "a..", ok: true, channels: []string{"a"}, names: []string{""}, keys: []string{""}},
		{filter: `a.*.x,*,\3`, ok: true, channels: []string{"a"}, keys: []string{"x"}},
		{filter: `a.*.\3`, ok: false},
		{filter: `*,\3.*.*`, ok: false},
	}
	for _, tt := range tests {
		f, err := drp.ParseFilter(tt.filter)
		if err != nil {
			t.Fatal(err)
		}
		pf, ok := drp.ToPB(f)
		if ok != tt.ok {
			t.Fatalf("ToPB(%q) ok = %v", tt.filter, ok)
		}
		if !ok {
			continue
		}
		if pf.Tenant != "" || len(pf.Subjects) != 0 || len(pf.Codes) != 0 ||
			!slices.Equal(pf.Channels, tt.channels) || !slices.Equal(pf.Names, tt.names) || !slices.Equal(pf.Keys, tt.keys) {
			t.Fatalf("ToPB(%q) = %v", tt.filter, pf)
		}
	}
}
