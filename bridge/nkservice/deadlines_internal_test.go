package nkservice

import (
	"testing"
	"time"
)

// frames is a socket stand-in numbering frames as wsconn.Conn.SendSeq does.
type frames struct{ n uint64 }

func (f *frames) send([]byte) (uint64, bool) { f.n++; return f.n, true }

func noFrame(uint64) []byte { return nil }

func newOutstanding(op time.Duration, expired chan<- string, name string) *outstanding {
	return &outstanding{op: op, ack: time.Hour, max: 8, expire: func() { expired <- name }}
}

// TestDeadlineStartsWhenWritten: a request's answer deadline runs from
// when its frame is written, not from when it was queued. "held" is queued
// first and written late; "control", queued after it and written at once,
// proves by expiring that the deadline's length has passed.
func TestDeadlineStartsWhenWritten(t *testing.T) {
	const op = 50 * time.Millisecond
	expired := make(chan string, 2)
	held, control := newOutstanding(op, expired, "held"), newOutstanding(op, expired, "control")
	var hf, cf frames
	if sent, full := held.issue(nil, noFrame, hf.send); !sent || full {
		t.Fatalf("issue = %v, %v", sent, full)
	}
	control.issue(nil, noFrame, cf.send)
	control.wrote(1)

	select {
	case name := <-expired:
		if name != "control" {
			t.Fatalf("%s expired first", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("control never expired")
	}
	// The held request's deadline has not started, and no timer runs for it.
	held.mu.Lock()
	p := held.m[1]
	armed := held.timer != nil
	held.mu.Unlock()
	if p == nil || !p.deadline.IsZero() || armed {
		t.Fatalf("held request before its write: %+v, timer armed %v", p, armed)
	}
	// Written now: from here it has op to be answered.
	began := time.Now()
	held.wrote(1)
	select {
	case name := <-expired:
		if name != "held" || time.Since(began) < op {
			t.Fatalf("%s expired %s after the write", name, time.Since(began))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("held never expired after its write")
	}
}

// TestDeadlineBookkeeping: answers before the write, acks, the bound on
// unanswered requests and stop.
func TestDeadlineBookkeeping(t *testing.T) {
	expired := make(chan string, 1)
	o := newOutstanding(time.Minute, expired, "o")
	o.max = 3
	var f frames
	for range 3 {
		if sent, _ := o.issue(nil, noFrame, f.send); !sent {
			t.Fatal("issue refused")
		}
	}
	if sent, full := o.issue(nil, noFrame, f.send); sent || !full {
		t.Fatalf("fourth issue = %v, %v; want full", sent, full)
	}
	// Request 1 is answered before its frame is reported written; 2 is
	// acked; the report then starts only 3's deadline.
	if o.answered(1) == nil {
		t.Fatal("request 1 unknown")
	}
	o.acked(2)
	o.wrote(3)
	o.mu.Lock()
	if len(o.queue) != 0 || len(o.m) != 2 || o.m[2].deadline.Sub(o.m[3].deadline) < 30*time.Minute {
		t.Fatalf("after the write: queue %v, pending %d, deadlines %v / %v", o.queue, len(o.m), o.m[2].deadline, o.m[3].deadline)
	}
	o.mu.Unlock()
	// A frame reported written before its request was recorded starts at once.
	o.wrote(4)
	o.answered(2)
	if sent, _ := o.issue(nil, noFrame, f.send); !sent {
		t.Fatal("issue refused")
	}
	o.mu.Lock()
	if p := o.m[4]; p == nil || p.deadline.IsZero() || len(o.queue) != 0 {
		t.Fatalf("request 4: %+v, queue %v", p, o.queue)
	}
	o.mu.Unlock()
	if left := o.stop(); len(left) != 2 {
		t.Fatalf("stop returned %d requests, want 2", len(left))
	}
	if sent, full := o.issue(nil, noFrame, f.send); sent || full {
		t.Fatal("issue after stop accepted")
	}
}
