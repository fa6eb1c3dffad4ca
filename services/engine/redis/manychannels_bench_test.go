//go:build linux

package redis_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/redistest"
	"github.com/switchboard-hub/switchboard/services/engine"
	"github.com/switchboard-hub/switchboard/services/engine/redis"
)

// BenchmarkManyChannels is the Redis many-channels case of two nodes: node
// B (this process) subscribes many channels, node A (a child process, so
// that the CPU of each node can be told apart) publishes from several
// goroutines, round-robin over the channels, keeping history (100 events,
// 5 minutes), on a private redis-server. One op is one publication, which
// is one delivery on B.
//
// Reported per op: B's CPU (user+sys of this process while the events
// flow), A's CPU and Redis's CPU; and over all deliveries the p50 and p99
// latency from the start of Publish on A to B's handler. allocs/op are B's.
//
// Environment: SWITCHBOARD_BENCH_CHANNELS (5000), SWITCHBOARD_BENCH_PUBLISHERS
// (8), SWITCHBOARD_BENCH_RATE (publications per second over all
// publishers; 0, the default, publishes flat out),
// SWITCHBOARD_BENCH_PUBLISHER_PROFILE (a file for node A's CPU profile; -cpuprofile
// covers B). Run with a fixed count, since every run sets up its own nodes:
//
//	go test ./services/engine/redis -run '^$' -bench ManyChannels -benchtime 50000x
func BenchmarkManyChannels(b *testing.B) {
	channels := envInt(b, "SWITCHBOARD_BENCH_CHANNELS", 5000)
	publishers := envInt(b, "SWITCHBOARD_BENCH_PUBLISHERS", 8)
	rate := envInt(b, "SWITCHBOARD_BENCH_RATE", 0)
	srv := redistest.Start(b)
	prefix := "bench"
	nodeB, err := redis.New(context.Background(), redis.Options{Address: srv.Addr, Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nodeB.Close() })

	h := &latencyHandler{lat: make([]time.Duration, 0, b.N), want: int64(b.N), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_ = nodeB.Run(ctx, h)
	}()
	b.Cleanup(func() { cancel(); <-runDone })
	for i := range channels {
		if err := nodeB.Subscribe(context.Background(), "t", "c"+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}

	args := []string{"-test.run=^TestManyChannelsPublisher$", "-test.v"}
	if f := os.Getenv("SWITCHBOARD_BENCH_PUBLISHER_PROFILE"); f != "" {
		args = append(args, "-test.cpuprofile="+f) // node A's CPU profile
	}
	child := exec.Command(os.Args[0], args...)
	child.Env = append(os.Environ(), "SWITCHBOARD_BENCH_PUBLISH="+strings.Join([]string{
		srv.Addr, prefix, strconv.Itoa(channels), strconv.Itoa(publishers), strconv.Itoa(rate), strconv.Itoa(b.N),
	}, ","))
	var out strings.Builder
	child.Stdout, child.Stderr = &out, &out
	redisBefore := redisCPU(b, srv.Addr)

	b.ReportAllocs()
	b.ResetTimer()
	before := selfCPU()
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	select {
	case <-h.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("delivered %d of %d", h.n.Load(), b.N)
	}
	cpuB := selfCPU() - before
	b.StopTimer()
	if err := child.Wait(); err != nil {
		b.Fatalf("publisher: %v\n%s", err, out.String())
	}
	ru := child.ProcessState.SysUsage().(*syscall.Rusage)
	cpuA := time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
	cpuRedis := redisCPU(b, srv.Addr) - redisBefore

	h.mu.Lock()
	lat := slices.Clone(h.lat)
	h.mu.Unlock()
	slices.Sort(lat)
	n := float64(b.N)
	b.ReportMetric(float64(cpuB.Nanoseconds())/n, "B-cpu-ns/op")
	b.ReportMetric(float64(cpuA.Nanoseconds())/n, "A-cpu-ns/op")
	b.ReportMetric(float64(cpuRedis.Nanoseconds())/n, "redis-cpu-ns/op")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// TestManyChannelsPublisher is node A of BenchmarkManyChannels; it does
// nothing unless the benchmark started it.
func TestManyChannelsPublisher(t *testing.T) {
	spec := os.Getenv("SWITCHBOARD_BENCH_PUBLISH")
	if spec == "" {
		t.Skip("node A of BenchmarkManyChannels")
	}
	var addr, prefix string
	var channels, publishers, rate, total int
	f := strings.Split(spec, ",")
	if len(f) != 6 {
		t.Fatalf("bad spec %q", spec)
	}
	addr, prefix = f[0], f[1]
	for i, p := range []*int{&channels, &publishers, &rate, &total} {
		v, err := strconv.Atoi(f[i+2])
		if err != nil {
			t.Fatal(err)
		}
		*p = v
	}
	e, err := redis.New(context.Background(), redis.Options{Address: addr, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	names := make([]string, channels)
	for i := range names {
		names[i] = "c" + strconv.Itoa(i)
	}
	opts := engine.HistoryOptions{Size: 100, TTL: 5 * time.Minute}
	var next atomic.Int64
	var interval time.Duration
	if rate > 0 {
		interval = time.Second * time.Duration(publishers) / time.Duration(rate)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			due := start.Add(interval * time.Duration(p) / time.Duration(publishers))
			for {
				i := next.Add(1) - 1
				if i >= int64(total) {
					return
				}
				if interval > 0 {
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
					due = due.Add(interval)
				}
				ev := &pb.Event{Tenant: "t", Channel: names[i%int64(channels)], Name: "bench", Data: `{"n":1,"pad":"0123456789abcdef"}`}
				if _, err := e.Publish(context.Background(), ev, opts); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// latencyHandler records, for each event, the time from its publish to
// its delivery here.
type latencyHandler struct {
	mu   sync.Mutex
	lat  []time.Duration
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (h *latencyHandler) HandleEvent(ev *pb.Event) {
	d := time.Since(ev.Time.AsTime())
	h.mu.Lock()
	h.lat = append(h.lat, d)
	h.mu.Unlock()
	if h.n.Add(1) == h.want {
		close(h.done)
	}
}
func (h *latencyHandler) HandleControl(*engine.Control) {}
func (h *latencyHandler) HandleGap(*engine.Gap)         {}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		b.Fatalf("%s=%q: want a number", name, s)
	}
	return v
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
}

// redisCPU reads the server's used_cpu_sys + used_cpu_user.
func redisCPU(b *testing.B, addr string) time.Duration {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	info, err := c.Do(context.Background(), c.B().Info().Section("cpu").Build()).ToString()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			var f float64
			if err := json.Unmarshal([]byte(v), &f); err != nil {
				b.Fatalf("%s: %v", line, err)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}
