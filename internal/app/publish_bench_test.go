package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/internal/app/apptest"
	"github.com/switchboard-hub/switchboard/services/auth"
)

// The publish benchmarks measure what one publication costs the server on
// each publish path: the Centrifugo v1 API (one command per request, and
// 100 per request), REST POST /v1/publish, gRPC Publish and gRPC
// PublishBatch (100 events per call).
//
// The load comes from another process: this test binary run again as
// TestPublishLoadClient, told what to do through environment variables. So
// the CPU time and allocations that this process spends during the run are
// the server's alone; they are reported per publication:
//
//	server-ns/pub        server CPU (user+sys, getrusage) per publication
//	pubs/server-CPU-s    publications per CPU-second of the server
//	server-allocs/pub    heap allocations of the server per publication
//
// ns/op is wall time per publication with loadWorkers requests in flight.
// Each request publishes to one of loadChannels channels (a batch: to all
// of them), with the default history. Run with a fixed count, e.g.
//
//	go test -run '^$' -bench PublishPaths -benchtime 20000x ./internal/app/
//
// and -cpuprofile to profile the server only.

const (
	loadWorkers  = 4   // requests in flight
	loadChannels = 100 // distinct channels; also the batch size
	loadEnv      = "SWITCHBOARD_PUBLISH_LOAD"
	loadPayload  = `{"text":"hello, publish path","n":12345}`
)

func BenchmarkPublishPaths(b *testing.B) {
	for _, mode := range []struct {
		name  string
		batch int // publications per request
	}{
		{"centrifugo", 1},
		{"centrifugo-batch100", loadChannels},
		{"rest", 1},
		{"grpc", 1},
		{"grpc-batch100", loadChannels},
	} {
		b.Run(mode.name, func(b *testing.B) {
			srv := apptest.Start(b, nil)
			// Warm the channels (their streams, epochs) and the
			// connection pools' first allocations out of the figures.
			runLoad(b, srv, mode.name, loadChannels*loadWorkers/mode.batch)
			requests := (b.N + mode.batch - 1) / mode.batch
			pubs := requests * mode.batch

			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			cpu0 := processCPU(b)
			b.ResetTimer()
			runLoad(b, srv, mode.name, requests)
			b.StopTimer()
			cpu := processCPU(b) - cpu0
			runtime.ReadMemStats(&ms1)
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(pubs), "server-ns/pub")
			b.ReportMetric(float64(pubs)/cpu.Seconds(), "pubs/server-CPU-s")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(pubs), "server-allocs/pub")
		})
	}
}

// processCPU is this process's user+sys time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runLoad runs the load client process for requests requests of mode.
func runLoad(b *testing.B, srv *apptest.Server, mode string, requests int) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPublishLoadClient$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		loadEnv+"="+mode,
		"LOAD_REQUESTS="+strconv.Itoa(requests),
		"LOAD_HTTP="+srv.HTTPURL,
		"LOAD_GRPC="+srv.GRPCAddr,
		"LOAD_SECRET="+apptest.TestSecret,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("load client: %v\n%s", err, out)
	}
}

// TestPublishLoadClient is the load process of BenchmarkPublishPaths; run
// as a plain test it does nothing.
func TestPublishLoadClient(t *testing.T) {
	mode := os.Getenv(loadEnv)
	if mode == "" {
		t.Skip("the load process of BenchmarkPublishPaths")
	}
	requests, err := strconv.Atoi(os.Getenv("LOAD_REQUESTS"))
	if err != nil {
		t.Fatal(err)
	}
	base, grpcAddr, secret := os.Getenv("LOAD_HTTP"), os.Getenv("LOAD_GRPC"), os.Getenv("LOAD_SECRET")

	var call func(ctx context.Context, w *loadWorker, i int) error
	switch mode {
	case "centrifugo":
		call = func(ctx context.Context, w *loadWorker, i int) error {
			w.body = appendPublishCommand(w.body[:0], i)
			return w.postAPI(ctx, base, secret)
		}
	case "centrifugo-batch100":
		call = func(ctx context.Context, w *loadWorker, i int) error {
			w.body = append(w.body[:0], '[')
			for c := range loadChannels {
				if c > 0 {
					w.body = append(w.body, ',')
				}
				w.body = appendPublishCommand(w.body, c)
			}
			w.body = append(w.body, ']')
			return w.postAPI(ctx, base, secret)
		}
	case "rest":
		call = func(ctx context.Context, w *loadWorker, i int) error {
			w.body = fmt.Appendf(w.body[:0], `{"channel":"load-%d","data":%q}`, i%loadChannels, loadPayload)
			return w.post(ctx, base+"/v1/publish", "authorization", "apikey "+secret)
		}
	case "grpc", "grpc-batch100":
		conn := apptest.Dial(t, grpcAddr, auth.APIKey(secret))
		hub := pb.NewHubServiceClient(conn)
		if mode == "grpc" {
			call = func(ctx context.Context, _ *loadWorker, i int) error {
				_, err := hub.Publish(ctx, &pb.PublishRequest{Event: &pb.Event{Channel: "load-" + strconv.Itoa(i%loadChannels), Data: loadPayload}})
				return err
			}
		} else {
			req := &pb.PublishBatchRequest{}
			for c := range loadChannels {
				req.Requests = append(req.Requests, &pb.PublishRequest{Event: &pb.Event{Channel: "load-" + strconv.Itoa(c), Data: loadPayload}})
			}
			call = func(ctx context.Context, _ *loadWorker, _ int) error {
				_, err := hub.PublishBatch(ctx, req)
				return err
			}
		}
	default:
		t.Fatalf("unknown mode %q", mode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	transport := &http.Transport{MaxIdleConnsPerHost: loadWorkers, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for wi := range loadWorkers {
		w := &loadWorker{client: client}
		wg.Go(func() {
			for i := wi; i < requests; i += loadWorkers {
				if err := call(ctx, w, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
}

// appendPublishCommand appends a v1 publish command to channel i's share.
func appendPublishCommand(b []byte, i int) []byte {
	b = append(b, `{"method":"publish","params":{"channel":"load-`...)
	b = strconv.AppendInt(b, int64(i%loadChannels), 10)
	b = append(b, `","data":`...)
	b = append(b, loadPayload...)
	return append(b, "}}"...)
}

type loadWorker struct {
	client *http.Client
	body   []byte
	resp   bytes.Buffer
}

func (w *loadWorker) postAPI(ctx context.Context, base, secret string) error {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(w.body)
	return w.post(ctx, base+"/api/", "X-API-Sign", hex.EncodeToString(mac.Sum(nil)))
}

func (w *loadWorker) post(ctx context.Context, url, header, value string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(w.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(header, value)
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	w.resp.Reset()
	if _, err := w.resp.ReadFrom(io.LimitReader(resp.Body, 1<<20)); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || bytes.Contains(w.resp.Bytes(), []byte(`"error":"`)) {
		return fmt.Errorf("%s: %s: %.300s", url, resp.Status, w.resp.Bytes())
	}
	return nil
}
