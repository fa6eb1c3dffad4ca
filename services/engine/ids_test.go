package engine_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
	"github.com/switchboard-hub/switchboard/services/engine"
)

// TestCloneEventCopiesEveryField sets every field of an Event and checks
// that engine.CloneEvent copies it, so a field added to the proto cannot be lost
// silently.
func TestCloneEventCopiesEveryField(t *testing.T) {
	ev := &pb.Event{}
	m := ev.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		switch f.Kind() {
		case protoreflect.StringKind:
			m.Set(f, protoreflect.ValueOfString("x"+string(f.Name())))
		case protoreflect.Int32Kind:
			m.Set(f, protoreflect.ValueOfInt32(int32(i+1)))
		case protoreflect.Uint64Kind:
			m.Set(f, protoreflect.ValueOfUint64(uint64(i+1)))
		case protoreflect.EnumKind:
			m.Set(f, protoreflect.ValueOfEnum(1))
		case protoreflect.MessageKind:
			sub := m.NewField(f).Message()
			sf := sub.Descriptor().Fields().Get(0)
			switch sf.Kind() {
			case protoreflect.StringKind:
				sub.Set(sf, protoreflect.ValueOfString("y"))
			case protoreflect.Int64Kind:
				sub.Set(sf, protoreflect.ValueOfInt64(42))
			default:
				t.Fatalf("field %s: first subfield kind %v not handled by the test", f.Name(), sf.Kind())
			}
			m.Set(f, protoreflect.ValueOfMessage(sub))
		default:
			t.Fatalf("field %s: kind %v not handled by the test; extend it and CloneEvent", f.Name(), f.Kind())
		}
	}
	if c := engine.CloneEvent(ev); !proto.Equal(c, ev) {
		t.Fatalf("CloneEvent lost a field:\n%v\nwant\n%v", c, ev)
	}
}
