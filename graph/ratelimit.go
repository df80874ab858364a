package graph

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"passerelle/apperr"
	"passerelle/viewer"
)

// mutationLimiter is a token bucket per user for mutations: a runaway
// client (or a stolen token) cannot flood the workflow.
type mutationLimiter struct {
	mu      sync.Mutex
	rate    float64 // tokens per second
	burst   float64
	buckets map[uuid.UUID]*bucket
	now     func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newMutationLimiter(perMinute, burst int) *mutationLimiter {
	return &mutationLimiter{rate: float64(perMinute) / 60, burst: float64(burst),
		buckets: map[uuid.UUID]*bucket{}, now: time.Now}
}

// allow takes a token for the user, or says how long to wait.
func (l *mutationLimiter) allow(user uuid.UUID) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[user]
	if b == nil {
		if len(l.buckets) > 100_000 {
			l.buckets = map[uuid.UUID]*bucket{} // bounded memory; full buckets again
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[user] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// limitMutations answers RATE_LIMITED to a signed-in user's mutation beyond
// the rate (sign-in has its own throttling in auth).
func (l *mutationLimiter) limitMutations(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	oc := graphql.GetOperationContext(ctx)
	v := viewer.FromContext(ctx)
	if v == nil || oc == nil || oc.Operation == nil || oc.Operation.Operation != "mutation" {
		return next(ctx)
	}
	if ok, wait := l.allow(v.UserID); !ok {
		secs := int(wait/time.Second) + 1
		graphql.AddError(ctx, apperr.New(apperr.RateLimited, "too many changes in a short time; retry in %d s", secs).
			With("retryAfterSeconds", secs))
		return graphql.Null
	}
	return next(ctx)
}
