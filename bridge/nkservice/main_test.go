package nkservice_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The tests fail when a goroutine outlives them: every socket a test
// opened has ended once its server shut down (the face awaits them).
//
// rueidis retries a command whose connection broke after a back-off sleep
// that its Close does not interrupt; that goroutine ends by itself.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"))
}
