package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

func TestParseStamp(t *testing.T) {
	tests := []struct {
		frame   string
		ts, seq int64
		ok      bool
	}{
		{`{"ts":12,"seq":3}`, 12, 3, true},
		{`{"Object":{"ts":12,"seq":3},"Type":"news"}`, 12, 3, true},                         // drp
		{`{"data":"{\"ts\":12,\"seq\":3}","event":"undefined","pipe":"news"}`, 12, 3, true}, // cppcomet
		{`{"seq": 3, "ts" : 12}`, 12, 3, true},
		{`{"Type":"websocket","Action":"register"}`, 0, 0, false},
		{`{"xts":12,"seq":3}`, 0, 0, false},
		{`{"ts":"12","seq":3}`, 0, 0, false},
		{`{"ts":99999999999999999999,"seq":3}`, 0, 0, false},
		{``, 0, 0, false},
	}
	for _, tt := range tests {
		ts, seq, ok := parseStamp([]byte(tt.frame))
		if ok != tt.ok || (ok && (ts != tt.ts || seq != tt.seq)) {
			t.Errorf("parseStamp(%s) = %d, %d, %v; want %d, %d, %v", tt.frame, ts, seq, ok, tt.ts, tt.seq, tt.ok)
		}
	}
}

func FuzzParseStamp(f *testing.F) {
	f.Add([]byte(`{"ts":12,"seq":3}`))
	f.Add([]byte(`{"data":"{\"ts\":12,\"seq\":3}"}`))
	f.Add([]byte(`"ts\":`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, seq, ok := parseStamp(b)
		if ok && (ts < 0 || seq < 0) {
			t.Fatalf("negative stamp %d %d", ts, seq)
		}
		// What appendPayload writes is always found again.
		p := appendPayload(nil, int64(len(b)), 7, len(b)%5)
		if ts, seq, ok := parseStamp(p); !ok || ts != int64(len(b)) || seq != 7 {
			t.Fatalf("payload %s not parsed back", p)
		}
	})
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	s := h.summary()
	if s.Count != 1000 || s.Max != time.Second {
		t.Fatalf("count %d max %v", s.Count, s.Max)
	}
	// Buckets are coarse; each quantile must be within 10% of the exact one.
	for _, q := range []struct {
		got  time.Duration
		want time.Duration
	}{{s.P50, 500 * time.Millisecond}, {s.P95, 950 * time.Millisecond}, {s.P99, 990 * time.Millisecond}} {
		if q.got < q.want*9/10 || q.got > q.want*11/10 {
			t.Errorf("quantile %v, want about %v", q.got, q.want)
		}
	}
}

func TestOptionsStayOnLoopback(t *testing.T) {
	tests := []struct {
		target string
		ok     bool
	}{
		{"http://127.0.0.1:8000", true},
		{"http://127.1.2.3:8000", true},
		{"http://localhost:8000", true},
		{"http://10.0.0.1:8000", false},
		{"http://example.com:8000", false},
		{"https://127.0.0.1:8000", false},
		{"http://127.0.0.1", false},
	}
	for _, tt := range tests {
		o := Defaults()
		o.Server = ServerOptions{Mode: ServerRemote, Target: tt.target, APISecret: "s", AdminUser: "a", AdminPassword: "p"}
		err := o.validate()
		if (err == nil) != tt.ok {
			t.Errorf("target %s: err = %v, want ok %v", tt.target, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrOptions) {
			t.Errorf("target %s: error %v is not ErrOptions", tt.target, err)
		}
	}
	o := Defaults()
	o.Clients = MaxClients + 1
	if err := o.validate(); err == nil {
		t.Error("more than MaxClients accepted")
	}
}

// TestRunEveryFace runs a small bench against a server in this process
// over real sockets: every message reaches every subscriber once, in order.
func TestRunEveryFace(t *testing.T) {
	for _, face := range Faces() {
		if face == FaceCentrifugo {
			continue // TestRunCentrifugo, with a Centrifugo binary
		}
		for _, scenario := range []string{ScenarioFanout, ScenarioChannels} {
			t.Run(fmt.Sprintf("%s/%s", face, scenario), func(t *testing.T) {
				o := Defaults()
				o.Face, o.Scenario = face, scenario
				o.Clients, o.Messages, o.Publishers = 8, 5, 3
				if scenario == ScenarioChannels {
					o.Messages = 40 // 5 per channel
				}
				o.Settle, o.Drain, o.Timeout = 0, 10*time.Second, time.Minute
				o.Server = ServerOptions{Mode: ServerInProcess}
				r, err := Run(context.Background(), o)
				if err != nil {
					t.Fatal(err)
				}
				d := r.Delivery
				if r.Setup.Connected != 8 || d.Expected != 40 || d.Delivered != 40 || d.Lost+d.Duplicated+d.Reordered+d.Stray != 0 || !d.Complete {
					t.Fatalf("setup %+v delivery %+v", r.Setup, d)
				}
				if r.Latency.Samples != 40 || r.Latency.Max <= 0 {
					t.Fatalf("latency %+v", r.Latency)
				}
				if r.Publish.Sent != o.Messages || !r.CPU.Available || r.CPU.Seconds < 0 || r.CPU.WindowSeconds <= 0 { // CPU time counts in 10 ms ticks: a tiny run may read 0
					t.Fatalf("publish %+v cpu %+v", r.Publish, r.CPU)
				}
			})
		}
	}
}

func TestRunGRPCPublisherAndIdle(t *testing.T) {
	o := Defaults()
	o.Face, o.Publisher = "cppcomet", PublisherGRPC
	o.Clients, o.Messages = 4, 5
	o.Settle, o.Drain, o.Timeout = 0, 10*time.Second, time.Minute
	o.Server = ServerOptions{Mode: ServerInProcess}
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Delivery.Delivered != 20 || r.Publish.Sent != 5 {
		t.Fatalf("publish %+v delivery %+v", r.Publish, r.Delivery)
	}

	o.Scenario, o.Clients = ScenarioIdle, 16
	r, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Setup.Connected != 16 || r.Publish.Sent != 0 || r.Delivery.Delivered != 0 {
		t.Fatalf("idle: setup %+v publish %+v", r.Setup, r.Publish)
	}
}

func TestPlan(t *testing.T) {
	tests := []struct {
		p     plan
		lanes int
	}{
		{plan{channels: 1, messages: 10, publishers: 3}, 3},
		{plan{channels: 5, messages: 23, publishers: 2}, 1},
		{plan{channels: 5, messages: 23, publishers: 8}, 1},
		{plan{channels: 4, messages: 3, publishers: 1}, 1},
	}
	for _, tt := range tests {
		if got := tt.p.lanes(); got != tt.lanes {
			t.Errorf("%+v: lanes %d, want %d", tt.p, got, tt.lanes)
		}
		seen := make([]bool, tt.p.messages)
		perChannel := make([]int, tt.p.channels)
		for pub := range tt.p.publishers {
			lastK, lastSeq := -1, map[int]int{}
			tt.p.each(pub, func(k, ch, seq int) bool {
				if k <= lastK {
					t.Errorf("%+v: publisher %d goes back from %d to %d", tt.p, pub, lastK, k)
				}
				lastK = k
				if seen[k] {
					t.Errorf("%+v: publication %d sent twice", tt.p, k)
				}
				seen[k] = true
				if ch != k%tt.p.channels || seq != k/tt.p.channels {
					t.Errorf("%+v: publication %d to channel %d seq %d", tt.p, k, ch, seq)
				}
				// Within a lane of a channel, one publisher sends in order.
				lane := ch*tt.lanes + seq%tt.lanes
				if prev, ok := lastSeq[lane]; ok && seq <= prev {
					t.Errorf("%+v: lane %d out of order", tt.p, lane)
				}
				lastSeq[lane] = seq
				perChannel[ch]++
				if seq >= tt.p.maxSeq() {
					t.Errorf("%+v: seq %d over maxSeq %d", tt.p, seq, tt.p.maxSeq())
				}
				return true
			})
		}
		for k, ok := range seen {
			if !ok {
				t.Errorf("%+v: publication %d never sent", tt.p, k)
			}
		}
		for c, n := range perChannel {
			if n != tt.p.perChannel(c) {
				t.Errorf("%+v: channel %d got %d, perChannel says %d", tt.p, c, n, tt.p.perChannel(c))
			}
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
	stat := []byte("4242 (a (b) c) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 75 0 0 20 0 9 0 100 0 0\n")
	got, err := parseStatCPU(stat)
	if err != nil || got != 3250*time.Millisecond {
		t.Fatalf("parseStatCPU = %v, %v; want 3.25s", got, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x 11"} {
		if _, err := parseStatCPU([]byte(bad)); !errors.Is(err, ErrNoCPU) {
			t.Errorf("parseStatCPU(%q) err = %v", bad, err)
		}
	}
	if cpu, err := readCPU(os.Getpid()); err != nil || cpu < 0 {
		t.Errorf("readCPU(self) = %v, %v", cpu, err)
	}
}

func TestTallyLanes(t *testing.T) {
	c := newCollector(6, 2)
	c.expect(6)
	tl := newTally(c, 0)
	now := time.Now()
	// Two lanes (even and odd seqs) arrive interleaved but each in order.
	for _, seq := range []int64{1, 0, 3, 2, 5, 4} {
		tl.frame(appendPayload(nil, now.UnixNano(), seq, 0), now)
	}
	if tl.unique != 6 || tl.reordered != 0 {
		t.Fatalf("unique %d reordered %d", tl.unique, tl.reordered)
	}
	tl.frame(appendPayload(nil, now.UnixNano(), 2, 0), now) // duplicate
	c2 := newCollector(6, 2)
	t2 := newTally(c2, 0)
	for _, seq := range []int64{2, 0} { // lane 0 backwards
		t2.frame(appendPayload(nil, now.UnixNano(), seq, 0), now)
	}
	if tl.dups != 1 || t2.reordered != 1 {
		t.Fatalf("dups %d reordered %d", tl.dups, t2.reordered)
	}
}
