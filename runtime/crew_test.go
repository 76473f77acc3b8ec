package runtime

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// countShard adds one to *n and marks itself done on wg.
type countShard struct {
	n  *atomic.Int64
	wg *sync.WaitGroup
	// block, if set, is received from before the shard counts: it keeps a
	// helper busy.
	block chan struct{}
}

func (s countShard) Run() {
	if s.block != nil {
		<-s.block
	}
	s.n.Add(1)
	s.wg.Done()
}

func TestCrewRunsEveryPostedShard(t *testing.T) {
	c := NewCrew[countShard](2)
	defer c.Close()
	if got := c.Idle(); got != 2 {
		t.Fatalf("Idle() after NewCrew(2) = %d, want 2", got)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	posted, ranHere := 0, 0
	for range 1000 {
		s := countShard{n: &n, wg: &wg}
		wg.Add(1)
		if c.Post(s) {
			posted++
		} else {
			s.Run()
			ranHere++
		}
		c.Reclaim()
	}
	wg.Wait()
	if got := n.Load(); got != 1000 {
		t.Errorf("%d shards ran, want 1000 (%d posted, %d run by the caller)", got, posted, ranHere)
	}
	if posted == 0 {
		t.Errorf("no shard was posted")
	}
}

func TestCrewPostFailsWhenTheHelpersAreBusy(t *testing.T) {
	c := NewCrew[countShard](1)
	defer c.Close()
	var n atomic.Int64
	var wg sync.WaitGroup
	block := make(chan struct{})
	// The helper takes the first shard and blocks in it; the second fills
	// the queue (one shard per helper); the third does not fit.
	wg.Add(1)
	if !c.Post(countShard{n: &n, wg: &wg, block: block}) {
		t.Fatal("Post to an idle crew failed")
	}
	for c.Idle() != 0 {
		// Wait until the helper has taken the blocking shard.
		goruntime.Gosched()
	}
	wg.Add(1)
	if !c.Post(countShard{n: &n, wg: &wg}) {
		t.Fatal("Post to an empty queue failed")
	}
	if c.Post(countShard{n: &n, wg: &wg}) {
		t.Fatal("Post to a full queue succeeded")
	}
	// Reclaim runs the queued shard here, while the helper is still blocked.
	c.Reclaim()
	if got := n.Load(); got != 1 {
		t.Errorf("after Reclaim %d shards ran, want 1 (the queued one)", got)
	}
	close(block)
	wg.Wait()
	if got := n.Load(); got != 2 {
		t.Errorf("%d shards ran, want 2", got)
	}
}

func TestCrewPostDoesNotAllocate(t *testing.T) {
	c := NewCrew[countShard](1)
	defer c.Close()
	var n atomic.Int64
	var wg sync.WaitGroup
	allocs := testing.AllocsPerRun(100, func() {
		wg.Add(1)
		s := countShard{n: &n, wg: &wg}
		if !c.Post(s) {
			s.Run()
		}
		c.Reclaim()
		wg.Wait()
	})
	if allocs != 0 {
		t.Errorf("Post, Reclaim and a shard's run allocate %v times, want 0", allocs)
	}
}

func TestCrewCloseEndsTheHelpers(t *testing.T) {
	c := NewCrew[countShard](3)
	c.Close()
	for c.Idle() != 0 {
		// Each helper leaves next, and stops counting itself idle, once
		// the queue is closed; a helper that did not would hang the test.
		goruntime.Gosched()
	}
}
