package wsconn

import "testing"

// FuzzFrameTracker: however a client's byte stream is cut into reads, the
// tracker ends in the same state as when it sees the stream whole.
func FuzzFrameTracker(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'}, uint8(3))
	f.Add([]byte{0x01, 0x82, 1, 2, 3, 4, 'h', 'e', 0x89, 0x80, 0, 0, 0, 0, 0x80, 0x81, 0, 0, 0, 0, 'x'}, uint8(7))
	f.Add([]byte{0x82, 0xfe, 0x01, 0x00}, uint8(1))
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0x10, 0}, uint8(5))
	f.Fuzz(func(t *testing.T, stream []byte, step uint8) {
		var whole, split frameTracker
		wantMid := whole.observe(stream)
		n := int(step%16) + 1
		mid := false
		for i := 0; i < len(stream); i += n {
			mid = split.observe(stream[i:min(i+n, len(stream))])
		}
		if len(stream) > 0 && mid != wantMid {
			t.Fatalf("split by %d: mid %v, whole: %v", n, mid, wantMid)
		}
		split.timeout, whole.timeout = 0, 0
		if split != whole {
			t.Fatalf("split by %d: %+v, whole: %+v", n, split, whole)
		}
	})
}
