package dr

// subscriber is one Subscribe call: its callback and the snapshots not yet delivered.
// All fields are guarded by Controller.mu.
type subscriber struct {
	fn        func(Snapshot)
	queue     []Snapshot
	busy      bool // a goroutine is delivering the queue: never two at once
	cancelled bool
}

// Subscribe calls fn with the current snapshot, then with every new one, in order,
// until cancel is called. It returns after the first call, so a caller that renders the
// current state in fn misses nothing between reading and subscribing.
//
// The contract:
//   - fn is never called concurrently with itself, and always in Seq order.
//   - Every change is delivered: nothing is dropped or merged. Changes are rare (a
//     health flip or a phase change), so the queue stays short unless fn stalls.
//   - fn runs on a goroutine of the controller's, never under its lock, so fn may call
//     Snapshot, Failover or Failback, and even cancel. But Run waits for deliveries in
//     flight before it returns, so fn must not block for long: a subscriber that fans
//     out to many websockets should hand the snapshot to its writers (a buffered
//     channel per connection, dropping or closing slow ones) and return.
//   - After cancel returns, fn is called at most once more (a call already in flight),
//     and never after that.
//   - The Snapshot passed to fn is shared by all subscribers: read-only.
func (c *Controller) Subscribe(fn func(Snapshot)) (cancel func()) {
	s := &subscriber{fn: fn, busy: true}
	c.mu.Lock()
	c.subs[s] = struct{}{}
	s.queue = append(s.queue, c.snap)
	c.mu.Unlock()
	c.deliver(s) // the first delivery happens on the caller's goroutine
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		s.cancelled = true
		s.queue = nil
		delete(c.subs, s)
	}
}

// enqueueLocked queues snap for s and starts a delivery goroutine if none is running.
func (c *Controller) enqueueLocked(s *subscriber, snap Snapshot) {
	s.queue = append(s.queue, snap)
	if s.busy {
		return
	}
	s.busy = true
	c.deliveries++
	go func() {
		c.deliver(s)
		c.mu.Lock()
		c.deliveries--
		if c.deliveries == 0 {
			c.idle.Broadcast()
		}
		c.mu.Unlock()
	}()
}

// deliver calls s.fn for each queued snapshot until the queue is empty, then marks s
// idle so the next publish starts a new delivery.
func (c *Controller) deliver(s *subscriber) {
	for {
		c.mu.Lock()
		if s.cancelled || len(s.queue) == 0 {
			s.busy = false
			s.queue = nil
			c.mu.Unlock()
			return
		}
		snap := s.queue[0]
		s.queue[0] = Snapshot{}
		s.queue = s.queue[1:]
		c.mu.Unlock()
		s.fn(snap)
	}
}

// OnPoolDown calls fn with a pool's name each time a pool that answered probes stops
// answering them, whatever the phase: the calls parked on that pool's park service are
// gone with it (ARCHITECTURE.md §2: "parked, not yet retrieved — disconnected"), also when it
// is the home pool users already left in a planned failover, or the backup. It is
// Subscribe underneath, with Subscribe's contract; a pool not yet probed is not down.
func (c *Controller) OnPoolDown(fn func(pool string)) (cancel func()) {
	return c.onPoolDown(func(_ Snapshot, pool string) { fn(pool) })
}

// onPoolDown is OnPoolDown with the snapshot in which the pool went down.
func (c *Controller) onPoolDown(fn func(s Snapshot, pool string)) (cancel func()) {
	healthy := map[string]bool{} // only fn's calls touch it, and they never overlap
	return c.Subscribe(func(s Snapshot) {
		for _, p := range s.Pools {
			if healthy[p.Name] && !p.Healthy {
				fn(s, p.Name)
			}
			healthy[p.Name] = p.Healthy
		}
	})
}
