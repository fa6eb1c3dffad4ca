package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the result of one run. Its JSON form is meant for tracking
// figures over time; durations are in milliseconds or seconds as named.
type Report struct {
	Scenario      string    `json:"scenario"`
	Face          string    `json:"face"`
	Redis         bool      `json:"redis"` // two nodes on a Redis engine
	Publisher     string    `json:"publisher"`
	Server        string    `json:"server"`
	ServerMode    string    `json:"server_mode"`
	SharedProcess bool      `json:"shared_process"` // the load generator ran in the server's process
	Clients       int       `json:"clients"`
	Channels      int       `json:"channels"`
	Messages      int       `json:"messages"`      // publications in all, one channel each
	Publishers    int       `json:"publishers"`    // concurrent publishers
	Rate          float64   `json:"rate_per_sec"`  // publications per second in all; 0: flat out
	PayloadBytes  int       `json:"payload_bytes"` // of one message's data
	CPUs          int       `json:"cpus"`
	FileLimit     uint64    `json:"file_limit"`
	Started       time.Time `json:"started"`

	Setup    SetupReport    `json:"setup"`
	Memory   MemoryReport   `json:"memory"`
	Publish  PublishReport  `json:"publish"`
	Delivery DeliveryReport `json:"delivery"`
	Latency  LatencyReport  `json:"latency_ms"`
	CPU      CPUReport      `json:"server_cpu"`

	Notes []string `json:"notes,omitempty"`
}

// SetupReport: opening and subscribing the clients.
type SetupReport struct {
	Connected   int     `json:"connected"`
	Failed      int     `json:"failed"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"conn_per_sec"`
	Concurrency int     `json:"concurrency"`
	FirstError  string  `json:"first_error,omitempty"`
}

// MemoryReport: the server's resident memory before and after the clients
// were connected and subscribed, each read after a quiet settle time.
type MemoryReport struct {
	Available     bool    `json:"available"`
	RSSBefore     int64   `json:"rss_before_bytes"`
	RSSAfter      int64   `json:"rss_after_bytes"`
	PerConn       float64 `json:"per_conn_bytes"`
	SettleSeconds float64 `json:"settle_seconds"`
	Error         string  `json:"error,omitempty"`
}

// PublishReport: the sequential publisher.
type PublishReport struct {
	Sent       int     `json:"sent"`
	Failed     int     `json:"failed"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_sec"`
	FirstError string  `json:"first_error,omitempty"`
}

// DeliveryReport: what the subscribers received. Delivered counts first
// deliveries of a (subscriber, message); the rate is over the time from
// the first publish to the last delivery.
type DeliveryReport struct {
	Expected          int64          `json:"expected"`
	Delivered         int64          `json:"delivered"`
	Lost              int64          `json:"lost"`
	Duplicated        int64          `json:"duplicated"`
	Reordered         int64          `json:"reordered"`
	Stray             int64          `json:"stray"` // stamped frames with an unknown sequence number
	Disconnected      int            `json:"disconnected"`
	DisconnectReasons map[string]int `json:"disconnect_reasons,omitempty"`
	Seconds           float64        `json:"seconds"`
	PerSecond         float64        `json:"msgs_per_sec"`
	Complete          bool           `json:"complete"`
}

// CPUReport: the server's CPU time (user + system) from the first
// publication to the end of the drain (the last delivery, or the drain's
// bound), per million deliveries and publications.
type CPUReport struct {
	Available              bool    `json:"available"`
	Seconds                float64 `json:"seconds"`
	WindowSeconds          float64 `json:"window_seconds"`
	PerMillionDeliveries   float64 `json:"per_million_deliveries"`
	PerMillionPublications float64 `json:"per_million_publications"`
	Shared                 bool    `json:"shared_process"` // includes the load generator
	// PublisherNodeSeconds: with two nodes, node A's CPU time in the same
	// window (not counted above).
	PublisherNodeSeconds float64 `json:"publisher_node_seconds,omitempty"`
	Error                string  `json:"error,omitempty"`
}

// LatencyReport: publish-to-receive latency over every delivery, in ms.
type LatencyReport struct {
	Samples uint64  `json:"samples"`
	Mean    float64 `json:"mean"`
	P50     float64 `json:"p50"`
	P95     float64 `json:"p95"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report for people.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }

	row("scenario", "%s: %s", r.Scenario, r.scenarioText())
	row("face / publisher", "%s subscribers / %s publisher", r.Face, r.Publisher)
	row("server", "%s, %d CPUs, open-file limit %d", r.Server, r.CPUs, r.FileLimit)
	s := r.Setup
	row("connection set-up", "%d connected and subscribed in %.2fs: %.0f conn/s (%d at a time, %d failed)",
		s.Connected, s.Seconds, s.PerSecond, s.Concurrency, s.Failed)
	if s.FirstError != "" {
		row("", "first failure: %s", s.FirstError)
	}
	m := r.Memory
	if m.Available {
		row("server memory", "RSS %s before, %s after: %s per connection+subscription",
			mib(m.RSSBefore), mib(m.RSSAfter), kib(m.PerConn))
		if r.SharedProcess {
			row("", "(whole process: the load generator's clients are included)")
		}
	} else {
		row("server memory", "not measured: %s", m.Error)
	}
	if r.Scenario != ScenarioIdle {
		p := r.Publish
		rate := "flat out"
		if r.Rate > 0 {
			rate = fmt.Sprintf("at %g/s", r.Rate)
		}
		row("published", "%d messages of %d bytes %s by %d publisher(s) in %.3fs (%.0f/s, %d failed)", p.Sent, r.PayloadBytes, rate, r.Publishers, p.Seconds, p.PerSecond, p.Failed)
		if p.FirstError != "" {
			row("", "first failure: %s", p.FirstError)
		}
		d := r.Delivery
		row("delivered", "%d of %d in %.3fs: %.0f msgs/s", d.Delivered, d.Expected, d.Seconds, d.PerSecond)
		l := r.Latency
		row("latency", "p50 %s  p95 %s  p99 %s  max %s  mean %s  (publish → receive)",
			msText(l.P50), msText(l.P95), msText(l.P99), msText(l.Max), msText(l.Mean))
		if c := r.CPU; c.Available {
			row("server CPU", "%.2f CPU-s (user+sys) in %.3fs: %.2f CPU-s per million deliveries, %.2f per million publications",
				c.Seconds, c.WindowSeconds, c.PerMillionDeliveries, c.PerMillionPublications)
			if c.Shared {
				row("", "(whole process: the load generator's work is included)")
			}
			if c.PublisherNodeSeconds > 0 {
				row("", "(node B, the subscribers'; node A, which took the publications, used %.2f CPU-s)", c.PublisherNodeSeconds)
			}
		} else {
			row("server CPU", "not measured: %s", c.Error)
		}
		row("integrity", "lost %d  duplicated %d  reordered %d  stray %d  disconnected %d",
			d.Lost, d.Duplicated, d.Reordered, d.Stray, d.Disconnected)
		for _, k := range slices.Sorted(maps.Keys(d.DisconnectReasons)) {
			row("", "%d× %s", d.DisconnectReasons[k], k)
		}
	}
	for _, n := range r.Notes {
		row("note", "%s", n)
	}
	return tw.Flush()
}

func (r *Report) scenarioText() string {
	switch r.Scenario {
	case ScenarioChannels:
		return fmt.Sprintf("%d channels with one subscriber each", r.Channels)
	case ScenarioIdle:
		return fmt.Sprintf("%d idle subscribed connections on one channel", r.Clients)
	default:
		return fmt.Sprintf("%d subscribers on one channel", r.Clients)
	}
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

func msText(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.2fs", v/1000)
	case v >= 10:
		return fmt.Sprintf("%.0fms", v)
	default:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".") + "ms"
	}
}
