package engine

import (
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// NewID returns 128 random bits as 22 URL-safe characters, for event and
// session ids. The runtime's generator is seeded from the OS per process;
// ids need to be unique, not secret, and this one costs no system call on
// the publish path.
func NewID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NewEpoch returns 64 random bits as 11 URL-safe characters: enough that
// two streams of one channel never share an epoch.
func NewEpoch() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// CloneEvent copies ev's fields into a new message in one allocation.
// Sub-messages (publisher, recipient, time) are shared: engines never
// change them, and callers must not change them after publishing.
// TestCloneEventCopiesEveryField keeps this list in step with the proto.
func CloneEvent(ev *pb.Event) *pb.Event {
	return &pb.Event{
		Id:        ev.Id,
		Tenant:    ev.Tenant,
		Channel:   ev.Channel,
		Subject:   ev.Subject,
		Name:      ev.Name,
		Key:       ev.Key,
		Code:      ev.Code,
		Kind:      ev.Kind,
		Data:      ev.Data,
		Previous:  ev.Previous,
		Publisher: ev.Publisher,
		To:        ev.To,
		Time:      ev.Time,
		Offset:    ev.Offset,
		Epoch:     ev.Epoch,
	}
}
