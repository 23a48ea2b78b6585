package pool

import (
	"math"
	"testing"
	"time"
)

// TestAdmissionRateCutsAndDrops drives the admission limit with a clock of its own: no
// limit until the pool falls behind; then half the rate it admitted; no second cut within
// cutEvery; another cut while still behind after it; the limit gone only once the pool
// has kept up for admitWindow; and the bucket hands out what the limit allows, not more.
func TestAdmissionRateCutsAndDrops(t *testing.T) {
	var r admissionRate
	const step = 10 * time.Millisecond
	now := int64(time.Second) // any origin but 0
	run := func(d time.Duration, perTick int, behind bool) (admitted int) {
		t.Helper()
		for end := now + int64(d); now < end; now += int64(step) {
			for i := 0; i < perTick; i++ {
				if r.take() {
					admitted++
				}
			}
			r.tick(now, step, behind)
		}
		return admitted
	}
	// 1 s at 4 calls a tick (400/s): nothing limits.
	if got := run(time.Second, 4, false); got != 400 {
		t.Fatalf("admitted %d of 400 with no limit", got)
	}
	if r.rate() != 0 {
		t.Fatalf("limit %v before the pool was ever behind, want none", r.rate())
	}
	// Behind: the limit is half what was admitted, 400/s over the second it has seen.
	run(step, 0, true)
	if got := r.rate(); math.Abs(got-200) > 10 {
		t.Fatalf("limit after falling behind %v, want ≈ 200 (half of 400/s)", got)
	}
	// Still behind within cutEvery: no second cut.
	first := r.rate()
	run(cutEvery/2, 0, true)
	if r.rate() != first {
		t.Fatalf("limit cut again within cutEvery: %v → %v", first, r.rate())
	}
	// Offered 400/s under the limit: about the limit is admitted (plus one bucket).
	got := run(time.Second, 4, false)
	if float64(got) > first*1.2 || float64(got) < first*0.8 {
		t.Fatalf("admitted %d in 1 s under a limit of %v/s", got, first)
	}
	// Behind again after cutEvery: cut to half of the lower of the limit and the
	// admitted rate.
	run(step, 0, true)
	if second := r.rate(); second >= first || second < minAdmitRate {
		t.Fatalf("second cut: %v, want below %v and at least %v", second, first, minAdmitRate)
	}
	// Kept up for less than admitWindow: the limit stays; for admitWindow: it goes.
	low := r.rate()
	run(admitWindow-time.Second, 0, false)
	if r.rate() != low {
		t.Fatalf("limit changed to %v before the pool kept up for admitWindow", r.rate())
	}
	// The bucket holds at most 100 ms of calls meanwhile.
	burst := 0
	for r.take() {
		burst++
	}
	if want := int(math.Max(1, low/10)); burst > want+1 {
		t.Fatalf("an idle bucket gave %d calls at once, want at most %d (100 ms at %v/s)", burst, want, low)
	}
	run(2*time.Second, 0, false)
	if r.rate() != 0 {
		t.Fatalf("limit %v after the pool kept up for admitWindow, want none", r.rate())
	}
	if got := run(time.Second, 4, false); got != 400 {
		t.Fatalf("admitted %d of 400 once the limit went", got)
	}
}

// TestAdmissionRateStartRamp: a node that starts takes rampStart new calls a second,
// not a burst of everything offered; the limit grows by rampGrowth each second the pool
// keeps up and goes once it passes rampEnd; falling behind on the way ends the ramp with
// a cut to half of what was taken.
func TestAdmissionRateStartRamp(t *testing.T) {
	const step = 10 * time.Millisecond
	ramp := func() (*admissionRate, *int64) {
		r := &admissionRate{}
		now := int64(time.Second)
		r.startRamp(now)
		return r, &now
	}
	run := func(r *admissionRate, now *int64, d time.Duration, perTick int, behind bool) (admitted int) {
		for end := *now + int64(d); *now < end; *now += int64(step) {
			for i := 0; i < perTick; i++ {
				if r.take() {
					admitted++
				}
			}
			r.tick(*now, step, behind)
		}
		return admitted
	}
	r, now := ramp()
	if !r.warming() || r.rate() != rampStart {
		t.Fatalf("limit at the start %v (warming %v), want %v", r.rate(), r.warming(), rampStart)
	}
	// Offered 1,000 a second: the first second takes rampStart and 100 ms of it more
	// (the bucket it starts with), not 1,000.
	if got := run(r, now, time.Second, 10, false); got < int(rampStart) || got > int(rampStart*1.1)+1 {
		t.Fatalf("first second of a cold pool offered 1000/s admitted %d, want %v–%v", got, rampStart, rampStart*1.1)
	}
	// Each second kept up: a quarter more.
	want := rampStart
	for i := 0; i < 3; i++ {
		want *= rampGrowth
		if got := run(r, now, time.Second, 10, false); math.Abs(float64(got)-want) > want*0.1 {
			t.Fatalf("second %d of the ramp admitted %d, want ≈ %v", i+2, got, want)
		}
	}
	// Kept up all the way: past rampEnd the limit goes.
	run(r, now, 15*time.Second, 0, false)
	if r.rate() != 0 || r.warming() {
		t.Fatalf("limit %v (warming %v) after 18 s kept up, want none", r.rate(), r.warming())
	}
	if got := run(r, now, time.Second, 10, false); got != 1000 {
		t.Fatalf("admitted %d of 1000 after the ramp", got)
	}

	// Behind during the ramp: the ramp ends and the limit is cut to half of what was
	// taken (≈ rampStart·rampGrowth over the last seconds), and it stays cut.
	r, now = ramp()
	run(r, now, 2*time.Second, 10, false)
	run(r, now, step, 10, true)
	if r.warming() {
		t.Fatal("still on the ramp after falling behind")
	}
	if got := r.rate(); got <= minAdmitRate || got > rampStart*rampGrowth/2*1.2 {
		t.Fatalf("limit after falling behind on the ramp %v, want about half of %v", got, rampStart*rampGrowth)
	}
	cut := r.rate()
	run(r, now, 2*time.Second, 10, false)
	if r.rate() != cut {
		t.Fatalf("limit after the ramp ended moved %v → %v while keeping up for less than admitWindow", cut, r.rate())
	}
}

// TestAdmissionRateFloor: a pool behind for a long time keeps taking at least
// minAdmitRate calls a second, so it can learn when to take more, and a pool that falls
// behind while taking fewer than minCutRate (starting, or starved by a neighbour) gets
// no limit from it at all.
func TestAdmissionRateFloor(t *testing.T) {
	var r admissionRate
	now := int64(time.Second)
	for i := 0; i < 3000; i++ { // 30 s behind, offered 100 calls a second
		r.take()
		r.tick(now, 10*time.Millisecond, true)
		now += int64(10 * time.Millisecond)
	}
	if got := r.rate(); got < minAdmitRate || got > minCutRate {
		t.Fatalf("limit after 30 s behind %v, want between %v and %v", got, minAdmitRate, minCutRate)
	}
	var idle admissionRate
	now = int64(time.Second)
	for i := 0; i < 300; i++ { // 3 s behind, offered 10 calls a second
		if i%10 == 0 {
			idle.take()
		}
		idle.tick(now, 10*time.Millisecond, true)
		now += int64(10 * time.Millisecond)
	}
	if got := idle.rate(); got != 0 {
		t.Fatalf("limit %v for a pool behind while taking 10 calls a second, want none", got)
	}
}

// TestOverloadRefusesBeyondTheLimit: a pool that is not behind but whose limit is spent
// refuses a new call 503 with a Warning naming the limit, and still takes a retrieve.
func TestOverloadRefusesBeyondTheLimit(t *testing.T) {
	p, n := overloadTestNode(t)
	p.overload.rate.limit.Store(50 * 1000) // 50 calls a second, none left now
	e := n.admitOverload(overloadTestRequest(t, "INVITE", "bob", "", ""))
	if e == nil || e.Code != 503 || e.RetryAfter != 2*time.Second {
		t.Fatalf("new call with the limit spent: %+v, want 503 with Retry-After 2s", e)
	}
	if len(e.Headers) != 1 || e.Headers[0].Value() == "" {
		t.Fatalf("refusal without a Warning: %+v", e.Headers)
	}
	if e := n.admitOverload(overloadTestRequest(t, "INVITE", "7005", "", "")); e != nil {
		t.Fatalf("retrieve refused with the limit spent: %+v", e)
	}
	p.overload.rate.tokens.Store(1000)
	if e := n.admitOverload(overloadTestRequest(t, "INVITE", "bob", "", "")); e != nil {
		t.Fatalf("new call refused with a call left in the bucket: %+v", e)
	}
}

// TestOverloadTakesRetransmissions: a copy of a new call the gate let in (the same
// transaction, sent again because its answer was slow) is never refused, however far
// behind the pool has fallen since; a new transaction is.
func TestOverloadTakesRetransmissions(t *testing.T) {
	p, n := overloadTestNode(t)
	first := overloadTestRequest(t, "INVITE", "bob", "", "")
	if e := n.admitOverload(first); e != nil {
		t.Fatalf("new call refused at rest: %+v", e)
	}
	p.overload.delay.Store(int64(time.Second)) // behind
	again := overloadTestRequest(t, "INVITE", "bob", "", "")
	if e := n.admitOverload(again); e != nil {
		t.Fatalf("retransmission of an admitted call refused while behind: %d %s", e.Code, e.Reason)
	}
	other := overloadTestRequest(t, "INVITE", "bob", "", "")
	other.Via().Params.Add("branch", "z9hG4bK-2")
	if e := n.admitOverload(other); e == nil || e.Code != 503 {
		t.Fatalf("a new transaction while behind: %+v, want 503", e)
	}
	// The memory of admitted calls lasts admittedKeep (Timer B), then goes.
	var a admittedCalls
	a.add(first, 1)
	if !a.seen(first, int64(admittedKeep)) {
		t.Fatal("forgot an admitted call within admittedKeep")
	}
	if a.seen(first, 1+2*int64(admittedKeep)) {
		t.Fatal("still remembers an admitted call after twice admittedKeep")
	}
}

// overloadTestNode is a stopped pool with overload.maxDelay 30ms and a node to ask its
// gate.
func overloadTestNode(t *testing.T) (*Pool, *node) {
	t.Helper()
	cfg := testConfig("pool-a", Range{Start: "7000", End: "7099"})
	cfg.Overload = Overload{MaxDelay: 30 * time.Millisecond}
	p, err := New(cfg, Options{Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return p, &node{pool: p}
}
