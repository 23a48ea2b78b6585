package edge

import (
	"fmt"
	"strings"
	"sync"

	"github.com/parkway/parkway/gateway/dr"
	"github.com/parkway/parkway/signaling"
)

// hub is the fan-out: it holds the current DR snapshot and every authenticated session,
// and on each change hands every session the new state frame.
//
// mu protects all fields. It is held while the state is dropped into each session's
// outbox, which never blocks, so a fan-out to 10,000 sessions holds it for about a
// millisecond and a session joining mid-fan-out still ends on the newest state (see
// outbox.setState's generations). The writes come after, outside it (fanout.go).
type hub struct {
	mu       sync.Mutex
	sessions map[*Session]struct{}
	snap     dr.Snapshot
	key      stateKey
	gen      uint64
	// frames caches the encoded state of generation gen per call-state focus: each
	// distinct State is encoded once however many sessions receive it, and framed for
	// the wire once per fan-out (wire nil until then).
	frames map[signaling.CallState]pendingState
	// writers counts the fan-out's workers (fanout.go), including any left behind in a
	// write a client does not take; closed (set by close) starts no more of them.
	writers sync.WaitGroup
	closed  bool
}

// stateKey is what a State message is made of; a snapshot that changes only other
// things (a redirection's progress, say) pushes nothing. A pool's health is part of it
// since the tabs refuse orbits of a pool that is down (signaling.OrbitRefusal).
type stateKey struct {
	phase        signaling.Phase
	home, active string
	pools        string // each pool's name, orbits and health: a tab refuses orbits of a pool that is down
}

func keyOf(s dr.Snapshot) stateKey {
	var pools strings.Builder
	for _, p := range s.Pools {
		fmt.Fprintf(&pools, "%s %s %v;", p.Name, p.Orbits, p.Healthy)
	}
	return stateKey{phase: s.Phase, home: s.HomePool, active: s.ActivePool, pools: pools.String()}
}

// poolStates are the snapshot's pools as the tabs see them (signaling.PoolState).
func poolStates(s dr.Snapshot) []signaling.PoolState {
	var out []signaling.PoolState
	for _, p := range s.Pools {
		out = append(out, signaling.PoolState{Name: p.Name, Orbits: p.Orbits, Up: p.Healthy})
	}
	return out
}

func newHub(initial dr.Snapshot) *hub {
	return &hub{
		sessions: map[*Session]struct{}{},
		snap:     initial,
		key:      keyOf(initial),
		gen:      1,
		frames:   map[signaling.CallState]pendingState{},
	}
}

// publish takes a snapshot from the controller. Snapshots older than the one held (by
// Seq) are ignored: Subscribe and Snapshot race at start-up.
func (h *hub) publish(s dr.Snapshot) (pushed int) {
	h.mu.Lock()
	if s.Seq < h.snap.Seq {
		h.mu.Unlock()
		return 0
	}
	h.snap = s
	if keyOf(s) == h.key {
		h.mu.Unlock()
		return 0
	}
	h.key = keyOf(s)
	h.gen++
	clear(h.frames)
	ready := make([]*Session, 0, len(h.sessions))
	for sess := range h.sessions {
		if sess.out.queueFramed(h.gen, h.wireLocked(sess.focus())) {
			ready = append(ready, sess)
		}
	}
	pushed = len(h.sessions)
	if h.closed {
		h.mu.Unlock()
		return pushed // the writers are saying goodbye
	}
	f := startFanout(ready, &h.writers)
	h.mu.Unlock()
	// The writes happen outside the lock: joins, refocuses and the phase requests are
	// checked against must not wait for them. A publish that comes meanwhile queues
	// behind this one in every outbox (generations), whoever then writes it.
	f.wait()
	return pushed
}

// close starts no more fan-outs; the server then waits for writers.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
}

// join adds an authenticated session and gives it the current state.
func (h *hub) join(sess *Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sessions[sess] = struct{}{}
	sess.out.setState(h.gen, h.key.phase, h.frameLocked(sess.focus()))
}

// refocus pushes sess the state for its focus call again, after the focus changed:
// capabilities follow the call the user looks at. The generation moves on so the
// outbox takes it; the cached frames stay valid, the snapshot being the same.
func (h *hub) refocus(sess *Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.sessions[sess]; !ok {
		return
	}
	h.gen++
	sess.out.setState(h.gen, h.key.phase, h.frameLocked(sess.focus()))
}

func (h *hub) leave(sess *Session) {
	h.mu.Lock()
	delete(h.sessions, sess)
	h.mu.Unlock()
}

// phase is the phase requests are checked against.
func (h *hub) phase() signaling.Phase {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.snap.Phase
}

func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// greet queues the current state for s as a reply, under the hub's lock, so no newer
// state can be written before it.
func (h *hub) greet(s *Session, focus signaling.CallState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	// A queue full at sign-in cannot happen; the pushed state would still come.
	s.out.offer(h.frameLocked(focus))
}

func (h *hub) frameLocked(focus signaling.CallState) []byte {
	if f, ok := h.frames[focus]; ok {
		return f.frame
	}
	st := signaling.NewState(h.snap.Phase, h.snap.HomePool, h.snap.ActivePool, focus)
	st.Pools = poolStates(h.snap)
	f, err := signaling.Encode("", st)
	if err != nil {
		// A State is plain strings and bools; failing to encode one is a bug.
		panic("edge: encode state: " + err.Error())
	}
	h.frames[focus] = pendingState{phase: h.key.phase, frame: f}
	return f
}

// wireLocked is the state for focus with its wire frame, which a fan-out worker writes
// as it is (fanout.go): every session with this focus shares the bytes.
func (h *hub) wireLocked(focus signaling.CallState) pendingState {
	st, ok := h.frames[focus]
	if !ok || st.wire == nil {
		st = pendingState{phase: h.key.phase, frame: h.frameLocked(focus)}
		st.wire = textFrame(st.frame)
		h.frames[focus] = st
	}
	return st
}
