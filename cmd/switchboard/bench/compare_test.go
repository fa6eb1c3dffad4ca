package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want Stat
	}{
		{nil, Stat{}},
		{[]float64{5}, Stat{5, 5, 5, 1}},
		{[]float64{9, 1, 5}, Stat{5, 1, 9, 3}},
		{[]float64{4, 1, 3, 2}, Stat{2.5, 1, 4, 4}},
	} {
		if got := Summarize(tt.in); got != tt.want {
			t.Errorf("Summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	in := []float64{3, 1, 2}
	Summarize(in)
	if in[0] != 3 {
		t.Error("Summarize sorted its argument")
	}
}

func TestCommas(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 153456: "153,456", 1234567: "1,234,567", -4781: "-4,781"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestSelectRows(t *testing.T) {
	all, err := SelectRows("all", 1)
	if err != nil || len(all) != len(CompareRows()) {
		t.Fatalf("all: %d rows, %v", len(all), err)
	}
	rows, err := SelectRows("channels5k, idle", 0.1)
	if err != nil || len(rows) != 2 {
		t.Fatalf("%v %v", rows, err)
	}
	if r := rows[0]; r.Clients != 500 || r.Messages != 5000 || r.Publishers != 8 ||
		r.Title != "500 channels, one subscriber each, 5,000 publications, 8 publishers" {
		t.Errorf("scaled row %+v", r)
	}
	if r := rows[1]; r.Clients != 1000 || r.Messages != 0 || !strings.HasPrefix(r.Title, "1,000 idle") {
		t.Errorf("scaled idle row %+v", r)
	}
	for _, bad := range []struct {
		rows  string
		scale float64
	}{{"nope", 1}, {"all", 0}, {"all", 2}} {
		if _, err := SelectRows(bad.rows, bad.scale); !errors.Is(err, ErrOptions) {
			t.Errorf("SelectRows(%q, %v) = %v", bad.rows, bad.scale, err)
		}
	}
}

func report(rate, p99, cpu float64, lost int64) *Report {
	r := &Report{}
	r.Delivery.PerSecond, r.Latency.P99, r.CPU.PerMillionDeliveries, r.Delivery.Lost = rate, p99, cpu, lost
	return r
}

func TestComparisonMarkdown(t *testing.T) {
	row := CompareRows()[0]
	rr := &RowResult{Row: row}
	for _, r := range []*Report{report(68000, 250, 17.6, 0), report(70000, 260, 17, 0), report(66000, 240, 18, 0)} {
		rr.Centrifugo.add(r, nil)
	}
	for _, r := range []*Report{report(150000, 380, 7, 0), report(153456, 390, 7.2, 0)} {
		rr.Switchboard.add(r, nil)
	}
	rr.Switchboard.add(nil, errors.New("spawned server exited"))
	idle := &RowResult{Row: CompareRows()[4]}
	c := &Comparison{Command: "make compare", Date: time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC), Machine: "2 cores",
		Rounds: 3, CentrifugoVersion: "v6.9.1", SwitchboardVersion: "v0.9", SwitchboardFace: "drp", Rows: []*RowResult{rr, idle}}
	var b strings.Builder
	if err := c.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Measured with `make compare` on 2026-12-02 18:00 UTC, 2 cores.",
		"| scenario | Centrifugo v6.9.1 | Switchboard v0.9 | Switchboard ÷ Centrifugo |",
		"| 1 channel, 10,000 subscribers, 100 publications flat out | 68,000 deliveries/s [66,000–70,000], p99 250ms [240ms–260ms], 17.6 CPU-s/M [17.0–18.0] | " +
			"151,728 deliveries/s [150,000–153,456], p99 385ms [380ms–390ms], 7.1 CPU-s/M [7.0–7.2] | 2.23× the rate, 1.54× the p99, 0.40× the CPU |",
		"| 10,000 idle connections, one channel each: memory | no run finished | no run finished | – |",
		"Integrity problems:",
		"Switchboard: lost 0, duplicated 0, reordered 0, disconnected 0, 1 runs failed; first error: spawned server exited",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	// Clean runs say so.
	rr.Switchboard = Side{}
	rr.Switchboard.add(report(1, 1, 1, 0), nil)
	c.Rows = c.Rows[:1]
	b.Reset()
	c.WriteMarkdown(&b)
	if !strings.Contains(b.String(), "Integrity: no publication lost") {
		t.Errorf("clean comparison:\n%s", b.String())
	}
	rr.Switchboard.add(report(1, 1, 1, 3), nil)
	b.Reset()
	c.WriteMarkdown(&b)
	if !strings.Contains(b.String(), "Switchboard: lost 3,") {
		t.Errorf("loss not reported:\n%s", b.String())
	}
}

// TestRunComparison runs a tiny comparison when a Centrifugo binary is
// present: both servers, two rounds, the idle and setup rows sharing runs.
func TestRunComparison(t *testing.T) {
	bin := centrifugoBinary(t)
	rows, err := SelectRows("channels5k,idle,setup", 0.002)
	if err != nil {
		t.Fatal(err)
	}
	var lines strings.Builder
	res, err := RunComparison(context.Background(), CompareOptions{
		Rows: rows, Rounds: 2, Centrifugo: bin, Command: spawnSelf(t), Face: "drp", Timeout: time.Minute, Settle: time.Millisecond, Log: &lines,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || len(res[0].Centrifugo.Runs) != 2 || len(res[0].Switchboard.Runs) != 2 || len(res[2].Switchboard.Runs) != 2 {
		t.Fatalf("results: %d rows; runs %d %d %d\n%s", len(res), len(res[0].Centrifugo.Runs), len(res[0].Switchboard.Runs), len(res[2].Switchboard.Runs), lines.String())
	}
	if n := strings.Count(lines.String(), "\n"); n != 8 {
		t.Errorf("%d runs logged, want 8 (idle and setup share theirs):\n%s", n, lines.String())
	}
	for _, rr := range res {
		if !rr.Centrifugo.Integrity.clean() || !rr.Switchboard.Integrity.clean() {
			t.Errorf("%s: %+v %+v", rr.Row.Name, rr.Centrifugo.Integrity, rr.Switchboard.Integrity)
		}
	}
}
