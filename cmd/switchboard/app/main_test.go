package app_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The tests fail when a goroutine outlives them: Shutdown must end
// everything a server started, in the core and in the faces.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
