package app_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The tests fail when a goroutine outlives them: Shutdown must end
// everything a server started, in the core and in the faces.
//
// rueidis retries a command whose connection broke (tests that kill or
// freeze Redis) after a back-off sleep that its Close does not interrupt;
// that sleeping goroutine ends by itself and holds nothing.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"))
}
