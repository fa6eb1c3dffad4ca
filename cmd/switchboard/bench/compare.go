package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The side-by-side comparison behind `make compare`: every row of the
// table is run against Centrifugo and Switchboard in turn (A B A B A B),
// each run on fresh server processes, with the same load generator; the
// table gives each server's median and range and the ratio of the
// medians.

// CompareRow is one scenario of the comparison.
type CompareRow struct {
	Name       string // for --rows
	Title      string // the table's first column
	Scenario   string
	Clients    int
	Messages   int
	Publishers int
	Rate       float64
	Redis      bool
	// Metrics shown, in order.
	Metrics []Metric
}

// CompareRows are the rows of the comparison, at full size. The idle and
// setup rows share their runs (one run reports both).
func CompareRows() []CompareRow {
	flat := []Metric{MetricDeliveryRate, MetricP99, MetricCPU}
	paced := []Metric{MetricP99, MetricCPU}
	chans := []Metric{MetricPublishRate, MetricP99, MetricCPU}
	return []CompareRow{
		{Name: "fanout", Title: "1 channel, 10,000 subscribers, 100 publications flat out", Scenario: ScenarioFanout, Clients: 10000, Messages: 100, Publishers: 1, Metrics: flat},
		{Name: "fanout-rate", Title: "1 channel, 1,000 subscribers, 200 publications at 20/s", Scenario: ScenarioFanout, Clients: 1000, Messages: 200, Publishers: 1, Rate: 20, Metrics: paced},
		{Name: "channels5k", Title: "5,000 channels, one subscriber each, 50,000 publications, 8 publishers", Scenario: ScenarioChannels, Clients: 5000, Messages: 50000, Publishers: 8, Metrics: chans},
		// 19,500, not 20,000: the load generator holds every subscriber's
		// socket in one process, and a common hard open-file limit is 20,000.
		{Name: "channels20k", Title: "19,500 channels, one subscriber each, 50,000 publications, 8 publishers", Scenario: ScenarioChannels, Clients: 19500, Messages: 50000, Publishers: 8, Metrics: chans},
		{Name: "idle", Title: "10,000 idle connections, one channel each: memory", Scenario: ScenarioIdle, Clients: 10000, Metrics: []Metric{MetricMemory}},
		{Name: "setup", Title: "10,000 connections set up and subscribed", Scenario: ScenarioIdle, Clients: 10000, Metrics: []Metric{MetricSetupRate}},
		{Name: "redis-fanout", Title: "Redis, two nodes: 1 channel, 10,000 subscribers, 100 publications flat out", Scenario: ScenarioFanout, Clients: 10000, Messages: 100, Publishers: 1, Redis: true, Metrics: flat},
		{Name: "redis-fanout-rate", Title: "Redis, two nodes: 1 channel, 1,000 subscribers, 200 publications at 20/s", Scenario: ScenarioFanout, Clients: 1000, Messages: 200, Publishers: 1, Rate: 20, Redis: true, Metrics: paced},
		{Name: "redis-channels5k", Title: "Redis, two nodes: 5,000 channels, one subscriber each, 50,000 publications, 8 publishers", Scenario: ScenarioChannels, Clients: 5000, Messages: 50000, Publishers: 8, Redis: true, Metrics: chans},
	}
}

// SelectRows picks rows by name ("all" or empty: every row) and scales
// their sizes by scale (0 < scale ≤ 1; the titles then give the scaled
// sizes).
func SelectRows(names string, scale float64) ([]CompareRow, error) {
	if scale <= 0 || scale > 1 {
		return nil, fmt.Errorf("%w: scale %v: want 0 < scale ≤ 1", ErrOptions, scale)
	}
	all := CompareRows()
	var out []CompareRow
	if names == "" || names == "all" {
		out = all
	} else {
		for _, n := range strings.Split(names, ",") {
			n = strings.TrimSpace(n)
			i := slices.IndexFunc(all, func(r CompareRow) bool { return r.Name == n })
			if i < 0 {
				var known []string
				for _, r := range all {
					known = append(known, r.Name)
				}
				return nil, fmt.Errorf("%w: row %q: want some of %s", ErrOptions, n, strings.Join(known, ","))
			}
			out = append(out, all[i])
		}
	}
	if scale != 1 {
		for i := range out {
			r := &out[i]
			oldN, oldM := r.Clients, r.Messages
			r.Clients = max(1, int(math.Ceil(float64(r.Clients)*scale)))
			if r.Messages > 0 {
				r.Messages = max(10, int(math.Ceil(float64(r.Messages)*scale)))
			}
			r.Title = strings.Replace(r.Title, commas(oldN), commas(r.Clients), 1)
			if oldM > 0 {
				r.Title = strings.Replace(r.Title, commas(oldM)+" publications", commas(r.Messages)+" publications", 1)
			}
		}
	}
	return out, nil
}

// Metric is one figure of a row.
type Metric int

// Metrics of the comparison.
const (
	MetricDeliveryRate Metric = iota // deliveries per second
	MetricPublishRate                // publications per second
	MetricP99                        // publish → receive p99, ms
	MetricCPU                        // server CPU-s per million deliveries
	MetricMemory                     // KiB per idle connection
	MetricSetupRate                  // connections set up per second
)

// value reads the metric from a report.
func (m Metric) value(r *Report) float64 {
	switch m {
	case MetricDeliveryRate:
		return r.Delivery.PerSecond
	case MetricPublishRate:
		return r.Publish.PerSecond
	case MetricP99:
		return r.Latency.P99
	case MetricCPU:
		return r.CPU.PerMillionDeliveries
	case MetricMemory:
		return r.Memory.PerConn / 1024
	default:
		return r.Setup.PerSecond
	}
}

// format writes a value with its unit.
func (m Metric) format(v float64) string {
	switch m {
	case MetricDeliveryRate:
		return commas(int(math.Round(v))) + " deliveries/s"
	case MetricPublishRate:
		return commas(int(math.Round(v))) + " publications/s"
	case MetricP99:
		return "p99 " + msText(v)
	case MetricCPU:
		return fmt.Sprintf("%.1f CPU-s/M", v)
	case MetricMemory:
		return fmt.Sprintf("%.1f KiB/conn", v)
	default:
		return commas(int(math.Round(v))) + " conn/s"
	}
}

// bare writes a value without its unit (for ranges).
func (m Metric) bare(v float64) string {
	switch m {
	case MetricP99:
		return msText(v)
	case MetricCPU, MetricMemory:
		return fmt.Sprintf("%.1f", v)
	default:
		return commas(int(math.Round(v)))
	}
}

// ratioName says what the ratio of the medians is of.
func (m Metric) ratioName() string {
	switch m {
	case MetricDeliveryRate, MetricPublishRate:
		return "the rate"
	case MetricP99:
		return "the p99"
	case MetricCPU:
		return "the CPU"
	case MetricMemory:
		return "the memory"
	default:
		return "the set-up rate"
	}
}

// Stat is the median and range of a metric over the rounds.
type Stat struct {
	Median, Min, Max float64
	N                int
}

// Summarize returns the median (the mean of the middle two for an even
// count) and the range of vs.
func Summarize(vs []float64) Stat {
	if len(vs) == 0 {
		return Stat{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Stat{Median: med, Min: s[0], Max: s[n-1], N: n}
}

// Integrity adds up what went wrong in a server's runs of a row.
type Integrity struct {
	Lost, Duplicated, Reordered, Disconnected int64
	Failed                                    int // runs that did not finish
}

func (i Integrity) clean() bool { return i == Integrity{} }

func (i Integrity) String() string {
	s := fmt.Sprintf("lost %d, duplicated %d, reordered %d, disconnected %d", i.Lost, i.Duplicated, i.Reordered, i.Disconnected)
	if i.Failed > 0 {
		s += fmt.Sprintf(", %d runs failed", i.Failed)
	}
	return s
}

// Side is one server's results of a row.
type Side struct {
	Runs      []*Report
	Integrity Integrity
	Errors    []string
}

func (s *Side) add(r *Report, err error) {
	if err != nil {
		s.Integrity.Failed++
		s.Errors = append(s.Errors, err.Error())
		return
	}
	s.Runs = append(s.Runs, r)
	d := r.Delivery
	s.Integrity.Lost += d.Lost
	s.Integrity.Duplicated += d.Duplicated
	s.Integrity.Reordered += d.Reordered
	s.Integrity.Disconnected += int64(d.Disconnected)
}

func (s *Side) stat(m Metric) Stat {
	var vs []float64
	for _, r := range s.Runs {
		vs = append(vs, m.value(r))
	}
	return Summarize(vs)
}

// RowResult is a row with both servers' results.
type RowResult struct {
	Row                     CompareRow
	Centrifugo, Switchboard Side
}

// Comparison is the whole result, with what the header needs.
type Comparison struct {
	Command            string
	Date               time.Time
	Machine            string
	Rounds             int
	CentrifugoVersion  string
	SwitchboardVersion string
	SwitchboardFace    string
	Rows               []*RowResult
}

// WriteMarkdown writes the comparison as a markdown table with its
// provenance.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured with `%s` on %s, %s.\n", c.Command, c.Date.UTC().Format("2006-01-02 15:04 MST"), c.Machine)
	fmt.Fprintf(&b, "Centrifugo %s and Switchboard %s, each spawned fresh for every run, interleaved (Centrifugo, Switchboard) × %d round(s); "+
		"the same load generator for both (`switchboard bench`: its own websocket client, subscribers on Centrifugo's JSON protocol and on Switchboard's %s face, "+
		"publications through Centrifugo's `POST /api/publish` and Switchboard's Centrifugo v1 `POST /api/`); both with history 100 for 5 minutes and presence. "+
		"Medians, range in brackets; CPU is the server's user+sys time from the first publication to the last delivery (with Redis: node B's, the subscribers' node) per million deliveries.\n\n",
		c.CentrifugoVersion, c.SwitchboardVersion, c.Rounds, c.SwitchboardFace)
	fmt.Fprintf(&b, "| scenario | Centrifugo %s | Switchboard %s | Switchboard ÷ Centrifugo |\n|---|---|---|---|\n", c.CentrifugoVersion, c.SwitchboardVersion)
	var problems []string
	for _, rr := range c.Rows {
		var cells [2][]string
		var ratios []string
		for _, m := range rr.Row.Metrics {
			cs, ss := rr.Centrifugo.stat(m), rr.Switchboard.stat(m)
			cells[0] = append(cells[0], statText(m, cs))
			cells[1] = append(cells[1], statText(m, ss))
			if cs.N > 0 && ss.N > 0 && cs.Median > 0 {
				ratios = append(ratios, fmt.Sprintf("%.2f× %s", ss.Median/cs.Median, m.ratioName()))
			} else {
				ratios = append(ratios, "–")
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", rr.Row.Title, strings.Join(cells[0], ", "), strings.Join(cells[1], ", "), strings.Join(ratios, ", "))
		for _, side := range []struct {
			name string
			s    *Side
		}{{"Centrifugo", &rr.Centrifugo}, {"Switchboard", &rr.Switchboard}} {
			if rr.Row.Scenario != ScenarioIdle && !side.s.Integrity.clean() || side.s.Integrity.Failed > 0 {
				p := fmt.Sprintf("%s, %s: %s", rr.Row.Title, side.name, side.s.Integrity)
				if len(side.s.Errors) > 0 {
					p += "; first error: " + side.s.Errors[0]
				}
				problems = append(problems, p)
			}
		}
	}
	if len(problems) == 0 {
		b.WriteString("\nIntegrity: no publication lost, duplicated or reordered and no subscriber disconnected, in every run.\n")
	} else {
		b.WriteString("\nIntegrity problems:\n\n")
		for _, p := range problems {
			b.WriteString("- " + p + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func statText(m Metric, s Stat) string {
	if s.N == 0 {
		return "no run finished"
	}
	if s.N == 1 || s.Min == s.Max {
		return m.format(s.Median)
	}
	return fmt.Sprintf("%s [%s–%s]", m.format(s.Median), m.bare(s.Min), m.bare(s.Max))
}

// commas writes n with thousands separators.
func commas(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// CompareOptions drive a comparison.
type CompareOptions struct {
	Rows       []CompareRow
	Rounds     int
	Centrifugo string   // the Centrifugo binary
	Command    []string // `switchboard serve`
	Face       string   // Switchboard's subscriber face
	Redis      string   // a Redis for the Redis rows (loopback)
	Timeout    time.Duration
	// Settle, when positive, replaces the quiet time before memory
	// readings (2 s for the idle rows, 0.5 s for the others).
	Settle time.Duration
	Log    io.Writer // a line per run
	// JSON, when set, receives every run's report.
	JSON func(row CompareRow, server string, round int, r *Report)
}

// RunComparison runs every row, Centrifugo then Switchboard, Rounds
// times. A failed run is counted and reported; it does not stop the
// others. Between runs, between (so that a run finds Redis as empty as the
// one before it) the caller's flush is called.
func RunComparison(ctx context.Context, o CompareOptions, flush func() error) ([]*RowResult, error) {
	if o.Rounds < 1 {
		return nil, fmt.Errorf("%w: rounds %d", ErrOptions, o.Rounds)
	}
	var out []*RowResult
	// idle and setup share their runs.
	var idle *RowResult
	for _, row := range o.Rows {
		rr := &RowResult{Row: row}
		out = append(out, rr)
		if row.Scenario == ScenarioIdle && idle != nil {
			rr.Centrifugo, rr.Switchboard = idle.Centrifugo, idle.Switchboard
			continue
		}
		for round := 1; round <= o.Rounds; round++ {
			for _, server := range []string{"centrifugo", "switchboard"} {
				if err := ctx.Err(); err != nil {
					return out, err
				}
				if flush != nil && row.Redis {
					if err := flush(); err != nil {
						return out, fmt.Errorf("redis: %w", err)
					}
				}
				bo := runOptions(o, row, server)
				start := time.Now()
				r, err := Run(ctx, bo)
				side := &rr.Switchboard
				if server == "centrifugo" {
					side = &rr.Centrifugo
				}
				side.add(r, err)
				if o.Log != nil {
					fmt.Fprintf(o.Log, "%-18s round %d %-11s %5.1fs  %s\n", row.Name, round, server, time.Since(start).Seconds(), runLine(row, r, err))
				}
				if o.JSON != nil && r != nil {
					o.JSON(row, server, round, r)
				}
				if errors.Is(err, context.Canceled) {
					return out, err
				}
			}
		}
		if row.Scenario == ScenarioIdle {
			idle = rr
		}
	}
	return out, nil
}

func runOptions(o CompareOptions, row CompareRow, server string) Options {
	bo := Defaults()
	bo.Scenario, bo.Clients, bo.Messages, bo.Publishers, bo.Rate = row.Scenario, row.Clients, row.Messages, max(1, row.Publishers), row.Rate
	bo.Timeout = o.Timeout
	bo.Drain = 30 * time.Second
	bo.Settle = 500 * time.Millisecond
	if row.Scenario == ScenarioIdle {
		bo.Settle = 2 * time.Second
	}
	if o.Settle > 0 {
		bo.Settle = o.Settle
	}
	bo.DialConcurrency = 64
	bo.Server = ServerOptions{Mode: ServerSpawn, Command: o.Command}
	if server == "centrifugo" {
		bo.Face = FaceCentrifugo
		bo.Server.Centrifugo = o.Centrifugo
	} else {
		bo.Face = o.Face
	}
	if row.Redis {
		bo.Server.Redis = o.Redis
	}
	return bo
}

func runLine(row CompareRow, r *Report, err error) string {
	if err != nil {
		return "failed: " + err.Error()
	}
	var parts []string
	for _, m := range row.Metrics {
		parts = append(parts, m.format(m.value(r)))
	}
	if row.Scenario == ScenarioIdle {
		parts = append(parts, MetricMemory.format(MetricMemory.value(r)), MetricSetupRate.format(MetricSetupRate.value(r)))
		parts = slices.Compact(parts)
	} else {
		d := r.Delivery
		parts = append(parts, fmt.Sprintf("lost %d dup %d reord %d disc %d", d.Lost, d.Duplicated, d.Reordered, d.Disconnected))
	}
	return strings.Join(parts, ", ")
}
