package bridge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-hub/switchboard/bridge"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFaceCloseEndsAndAwaitsItsGoroutines(t *testing.T) {
	life, stop := context.WithCancel(context.Background())
	defer stop()
	f := bridge.Deps{Context: life}.Face("test", nil)

	started := make(chan struct{})
	release := make(chan struct{})
	ended := make(chan struct{})
	if !f.Go(func(ctx context.Context) {
		close(started)
		<-ctx.Done() // a socket closes when the face's context ends
		<-release    // and takes a while to tear down
		close(ended)
	}) {
		t.Fatal("Go refused before Close")
	}
	<-started

	// Close waits for the goroutine: bounded by its ctx, it reports it.
	short, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Close(short); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with the goroutine still running = %v, want context.Canceled", err)
	}
	if f.Context().Err() == nil {
		t.Fatal("the face's context did not end at Close")
	}
	if f.Go(func(context.Context) { t.Error("ran after Close") }) {
		t.Fatal("Go accepted after Close")
	}
	close(release)
	ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := f.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-ended:
	default:
		t.Fatal("Close returned before the goroutine ended")
	}
}

func TestFaceContextEndsWithTheProcess(t *testing.T) {
	life, stop := context.WithCancel(context.Background())
	f := bridge.Deps{Context: life}.Face("test", nil)
	stop()
	<-f.Context().Done()
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
