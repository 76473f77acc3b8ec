package runtime

import (
	goruntime "runtime"
	"sync/atomic"
	"time"
)

// A Shard is a piece of work that a [Crew] runs: a generated package's
// share of a batch, or a helper's claim on the stages of a split one-sample
// forward.
type Shard interface {
	// Run does the work and signals its completion to whoever waits for
	// it (a sync.WaitGroup in the generated packages).
	Run()
}

// Crew is a set of helper goroutines that run the shards posted to it: the
// helpers of a generated package's Frozen, which split a batch, or one
// sample's forward, across goroutines. A call posts its other shards without
// waiting ([Crew.Post]), runs its own share, and then runs whatever shards
// no helper has taken ([Crew.Reclaim]), so that it never waits for a busy
// helper and concurrent calls do not wait for one another.
//
// An idle helper polls the queue for a while ([HelperSpin]) after its last
// shard before it blocks on it: waking a blocked goroutine takes longer than
// several stages of a split one-sample forward (a few microseconds each),
// and calls that follow one another closely find their helpers polling.
//
// The queue is a channel of S, not of an interface, so that posting a shard
// does not allocate.
type Crew[S Shard] struct {
	shards chan S
	idle   atomic.Int32
}

// HelperSpin is how long an idle helper of a [Crew] polls the queue before it
// blocks on it.
const HelperSpin = 50 * time.Microsecond

// NewCrew starts helpers goroutines (at least one) and returns their crew
// once every helper waits for work, so that the first call finds them so.
// [Crew.Close] ends them.
func NewCrew[S Shard](helpers int) *Crew[S] {
	helpers = max(helpers, 1)
	c := &Crew[S]{shards: make(chan S, helpers)}
	for range helpers {
		go c.serve()
	}
	for c.idle.Load() < int32(helpers) {
		goruntime.Gosched()
	}
	return c
}

// Close ends the helpers once they have run the shards already posted. The
// crew must not be used afterwards.
func (c *Crew[S]) Close() {
	close(c.shards)
}

// Idle returns the number of helpers waiting for work.
func (c *Crew[S]) Idle() int {
	return int(c.idle.Load())
}

// Post queues s for a helper and reports whether it could: the queue, which
// holds one shard per helper, is full when the helpers are busy with other
// calls' shards; the caller then runs s itself.
func (c *Crew[S]) Post(s S) bool {
	select {
	case c.shards <- s:
		return true
	default:
		return false
	}
}

// Reclaim runs the shards left in the queue on the caller's goroutine (its
// call's, or another's), so that the call never waits for a shard that no
// helper has taken.
func (c *Crew[S]) Reclaim() {
	for {
		select {
		case s, ok := <-c.shards:
			if !ok {
				return
			}
			s.Run()
		default:
			return
		}
	}
}

// serve runs the shards it takes from the queue until the queue is closed.
// A shard's data is referenced only while it runs, so an idle helper keeps
// nothing alive (a Frozen's cleanup closes its crew).
func (c *Crew[S]) serve() {
	for {
		s, ok := c.next()
		if !ok {
			return
		}
		s.Run()
	}
}

// next returns the next shard of the queue, or false once the queue is
// closed, counting the helper idle meanwhile: it polls the queue for
// HelperSpin, yielding to other goroutines now and then, and then blocks on
// it.
func (c *Crew[S]) next() (S, bool) {
	c.idle.Add(1)
	defer c.idle.Add(-1)
	deadline := time.Now().Add(HelperSpin)
	for i := 1; ; i++ {
		select {
		case s, ok := <-c.shards:
			return s, ok
		default:
		}
		if i%64 == 0 {
			if time.Now().After(deadline) {
				break
			}
			goruntime.Gosched()
		}
	}
	s, ok := <-c.shards
	return s, ok
}
