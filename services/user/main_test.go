package user_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The tests fail when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
