package memory_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The tests fail when a goroutine outlives them: Close must stop every
// engine's sweeper.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
