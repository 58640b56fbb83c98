package natsbus

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// An unanswered setup call is sent again; other errors and the caller's
// own deadline end the attempts. It runs on synctest's fake clock, so the
// attempts' deadlines and the pauses between them fall at exact times.
func TestRetryAPI(t *testing.T) { synctest.Test(t, testRetryAPI) }

func testRetryAPI(t *testing.T) {
	defer func(a time.Duration, n int) { apiAttempt, apiAttempts = a, n }(apiAttempt, apiAttempts)
	apiAttempt, apiAttempts = 20*time.Millisecond, 4

	calls := 0
	v, err := retryAPI(context.Background(), func(ctx context.Context) (int, error) {
		calls++
		if calls < 3 {
			<-ctx.Done() // the answer is lost
			return 0, ctx.Err()
		}
		return 7, nil
	})
	if v != 7 || err != nil || calls != 3 {
		t.Errorf("lost answers: got %d, %v after %d calls; want 7, nil after 3", v, err, calls)
	}

	calls = 0
	refused := errors.New("stream name in use with another subject")
	if _, err := retryAPI(context.Background(), func(context.Context) (int, error) { calls++; return 0, refused }); !errors.Is(err, refused) || calls != 1 {
		t.Errorf("a refusal: %v after %d calls, want it at once", err, calls)
	}

	calls = 0
	if _, err := retryAPI(context.Background(), func(ctx context.Context) (int, error) { calls++; <-ctx.Done(); return 0, ctx.Err() }); !errors.Is(err, context.DeadlineExceeded) || calls != 4 {
		t.Errorf("never answered: %v after %d calls, want a deadline error after 4", err, calls)
	}

	// The first attempt times out at 20ms; the caller's deadline, at 30ms,
	// ends the pause before the second.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	calls = 0
	start := time.Now()
	if _, err := retryAPI(ctx, func(ctx context.Context) (int, error) { calls++; <-ctx.Done(); return 0, ctx.Err() }); err == nil || time.Since(start) != 30*time.Millisecond || calls != 1 {
		t.Errorf("caller's deadline: %v after %s and %d calls, want an error after 30ms and 1 call", err, time.Since(start), calls)
	}
}
