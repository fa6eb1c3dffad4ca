package admin

import (
	"testing"
	"time"
)

func TestFailuresWindow(t *testing.T) {
	f := newFailures(Limits{PerAccount: 3, PerAddress: 5, Window: time.Minute})
	t0 := time.Unix(1_000_000, 0)
	for i := range 3 {
		if f.blocked(t0, "a", "10.0.0.1:1000") {
			t.Fatalf("blocked after %d failures", i)
		}
		f.record(t0, "a", "10.0.0.1:1000")
	}
	if !f.blocked(t0.Add(59*time.Second), "a", "10.0.0.9:1") {
		t.Fatal("account not blocked after 3 failures")
	}
	if f.blocked(t0, "b", "10.0.0.2:1") {
		t.Fatal("another account and address blocked")
	}
	// The address counts across accounts and ports.
	f.record(t0, "b", "10.0.0.1:2000")
	f.record(t0, "c", "10.0.0.1:3000")
	if !f.blocked(t0, "d", "10.0.0.1:4000") {
		t.Fatal("address not blocked after 5 failures")
	}
	// The window ends.
	if f.blocked(t0.Add(time.Minute), "a", "10.0.0.1:1") {
		t.Fatal("still blocked after the window")
	}
}
