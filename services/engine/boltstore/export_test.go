package boltstore

import "time"

// SetMoveDelay changes how long pushes wait in the log (tests that need
// them to stay there); it returns the old value.
func SetMoveDelay(d time.Duration) time.Duration {
	old := moveDelay
	moveDelay = d
	return old
}

// SetSegmentSize changes the size at which the log starts a new segment.
func SetSegmentSize(n int64) int64 {
	old := segmentSize
	segmentSize = n
	return old
}

// ReadRecords exposes the log reader to the fuzz test.
func ReadRecords(data []byte) (n int, clean bool) {
	recs, clean := readRecords(data)
	return len(recs), clean
}

// Record is one encoded push of bodies for endpoint ep from id first, the
// queue keeping everything from id 1.
func Record(lsn uint64, ep string, first uint64, bodies ...string) []byte {
	r := &walRecord{lsn: lsn}
	for i, b := range bodies {
		r.items = append(r.items, walItem{endpoint: ep, id: first + uint64(i), body: []byte(b)})
	}
	r.heads = []walHead{{endpoint: ep, head: 1}} // nothing dropped
	return appendRecord(nil, r)
}
