package park

import (
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
	"github.com/parkway/parkway/siptest"
)

// A parker that never answers at all (a dead address: not even 100 Trying)
// must not hold up the timeout path or Stop.
func TestRingBackToDeadParker(t *testing.T) {
	ctx := testCtx(t)
	dead, err := net.ListenPacket("udp", "127.0.0.1:0") // swallows everything
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	s := startService(t, defaultConfig(), shortTimers())
	events, cancel := s.Events()
	defer cancel()
	bob := siptest.NewPhone(t, siptest.PhoneOptions{User: "bob"})
	bp, err := bob.Call(ctx, uri(s, parkwire.ParkUser), sip.NewHeader("Referred-By", "<sip:ghost@"+dead.LocalAddr().String()+">"))
	if err != nil {
		t.Fatal(err)
	}
	nextEvent(t, ctx, events, parkwire.StateRingingBack)
	start := time.Now()
	nextEvent(t, ctx, events, parkwire.StateTimedOut)
	<-bp.Done()
	t.Logf("timed out %v after ringing a dead parker", time.Since(start))
	start = time.Now()
	s.Stop()
	t.Logf("Stop took %v", time.Since(start))
}
