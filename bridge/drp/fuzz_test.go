package drp_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchboard-hub/switchboard/bridge/drp"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// refAnyOf is the list rule of pb.Filter, written from event.proto: an empty
// list or one holding "*" matches any value, including ""; otherwise the
// value must equal an element exactly.
func refAnyOf(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, s := range list {
		if s == "*" || s == v {
			return true
		}
	}
	return false
}

// refMatch applies a pb.Filter to a DRP event of the default tenant (no
// subject, no code), as the hub does.
func refMatch(f *pb.Filter, typ, action, key string) bool {
	return f.GetTenant() == "" && len(f.GetCodes()) == 0 &&
		refAnyOf(f.GetChannels(), typ) && refAnyOf(f.GetSubjects(), "") &&
		refAnyOf(f.GetNames(), action) && refAnyOf(f.GetKeys(), key)
}

var filterSeeds = []string{
	"*.*.*", "profiles.*.*", "profiles.save.global", "machines.update.a.b.c",
	"machines,profiles.save,update.*", " a , b .c.d", `my\1type.a\2b.x\3`, `a.*.x,*`,
	`a.*.\3`, "jobs..", "jobs.save.a,", `\\1.\\.\`, "*", "machines", "a.b", "", ".", "..",
	"*.*.*.*", ",,.,.,", "\xff.\xfe.\x00", "a.b.c\n", " * . * . * ",
}

// FuzzParseFilter: parsing never panics, malformed filters are exactly those
// with fewer than two dots, and Match on the parsed filter agrees with the
// core's matching of the translated pb.Filter (a never-matching filter
// translates to nothing).
func FuzzParseFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s, "profiles", "save", "global")
		f.Add(s, "", "", "")
		f.Add(s, "*", "*", "*")
	}
	f.Fuzz(func(t *testing.T, filter, typ, action, key string) {
		parsed, err := drp.ParseFilter(filter)
		if strings.Count(filter, ".") < 2 {
			if !errors.Is(err, drp.ErrMalformedFilter) {
				t.Fatalf("ParseFilter(%q) = %v; want ErrMalformedFilter", filter, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", filter, err)
		}
		pf, ok := drp.ToPB(parsed)
		// Candidate values: the fuzzer's, the filter's own alternatives
		// (so that matches are actually exercised), "" and "*".
		cands := func(p drp.Part, extra string) []string {
			return append([]string{extra, "", "*"}, p.Values...)
		}
		for _, ty := range cands(parsed.Type, typ) {
			for _, ac := range cands(parsed.Action, action) {
				for _, k := range cands(parsed.Key, key) {
					got := parsed.Match(ty, ac, k)
					want := ok && refMatch(pf, ty, ac, k)
					if got != want {
						t.Fatalf("filter %q on (%q, %q, %q): Match = %v, translated %v (ok %v) = %v", filter, ty, ac, k, got, pf, ok, want)
					}
				}
			}
		}
	})
}

// FuzzParseCommand: never panics; a parsed command's filter is exactly the
// text after the first space of the trimmed frame.
func FuzzParseCommand(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add([]byte("register " + s))
		f.Add([]byte("deregister " + s))
	}
	f.Add([]byte(""))
	f.Add([]byte("register"))
	f.Add([]byte("  register\tx"))
	f.Add([]byte("Register a.b.c"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		cmd, err := drp.ParseCommand(frame)
		if err != nil {
			if !errors.Is(err, drp.ErrNotCommand) {
				t.Fatalf("ParseCommand(%q): unexpected error %v", frame, err)
			}
			return
		}
		if !utf8.ValidString(cmd.Filter) {
			t.Fatalf("ParseCommand(%q) accepted invalid UTF-8", frame)
		}
		trimmed := strings.TrimSpace(string(frame))
		if trimmed != cmd.Verb.String()+" "+cmd.Filter {
			t.Fatalf("ParseCommand(%q) = %+v", frame, cmd)
		}
	})
}
