package redis_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The tests fail when a goroutine outlives them: Close must end every
// engine's connections, pub/sub link and refresher.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
