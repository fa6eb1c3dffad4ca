package inproc_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every stream handler the tests start has ended when they finish.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
