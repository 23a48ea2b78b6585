package dr

// OnParkPoolDown is OnPoolDown for the calls parked on the pool that went down: fn gets
// the pool and where to re-park its calls — the other pool when the dead one has
// SurvivablePark and the other answers probes (ARCHITECTURE.md §3, "Survivable park"),
// else "" and its parked calls are hung up as the seed's table says.
func (c *Controller) OnParkPoolDown(fn func(pool, reparkTo string)) (cancel func()) {
	return c.onPoolDown(func(s Snapshot, pool string) { fn(pool, s.ReparkTarget(pool)) })
}

// ReparkTarget is where calls parked on the pool dead go when it dies: the other pool of
// the pair if dead has SurvivablePark and the other is healthy, else "".
func (s Snapshot) ReparkTarget(dead string) string {
	d, ok := s.Pool(dead)
	if !ok || !d.SurvivablePark {
		return ""
	}
	for _, p := range s.Pools {
		if p.Name != dead && p.Healthy {
			return p.Name
		}
	}
	return ""
}
