package wsconn_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/switchboard-hub/switchboard/bridge/wsconn"
)

// BenchmarkSend measures one socket's throughput: Send (enqueue, starting
// the writer on demand) through to the client having read the frame.
//
//	go test -run XXX -bench Send -benchmem ./bridge/wsconn/
func BenchmarkSend(b *testing.B) {
	for _, size := range []int{128, 4096} {
		b.Run(sizeName(size), func(b *testing.B) {
			s := startServer(b, wsconn.AcceptOptions{QueueSize: 1 << 30, QueueBytes: 1 << 30, Face: "bench"})
			cc, c := s.dial(b, nil)
			frame := make([]byte, size)

			read := make(chan int, 1)
			go func() {
				n := 0
				for n < b.N {
					if _, _, err := cc.Read(context.Background()); err != nil {
						break
					}
					n++
				}
				read <- n
			}()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if !c.Send(frame) {
					b.Fatalf("Send refused")
				}
			}
			if n := <-read; n != b.N {
				b.Fatalf("client read %d of %d", n, b.N)
			}
		})
	}
}

func sizeName(n int) string {
	if n >= 1024 {
		return strconv.Itoa(n/1024) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
