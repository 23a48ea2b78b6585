package park

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/siptest"
)

// BenchmarkParkRetrieve measures full park+retrieve cycles on one service:
// bob's INVITE to sip:park@ (as after a transfer), answer, music, carol
// dials the orbit, REFER with Replaces, bob↔carol direct, hang up. One op is
// one cycle; cycles/s = 1e9 / ns/op.
func BenchmarkParkRetrieve(b *testing.B) {
	s, err := New(defaultConfig(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer s.Stop()
	alice := siptest.NewPhone(b, siptest.PhoneOptions{User: "alice"})
	bob := siptest.NewPhone(b, siptest.PhoneOptions{User: "bob", ToneHz: bobHz})
	carol := siptest.NewPhone(b, siptest.PhoneOptions{User: "carol", ToneHz: carolHz})
	rb := sip.NewHeader("Referred-By", "<"+alice.URI()+">")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bp, err := bob.Call(ctx, "sip:park@"+s.Addr(), rb)
		if err != nil {
			b.Fatal(err)
		}
		cp, err := carol.Call(ctx, "sip:"+bp.Header(OrbitHeader)+"@"+s.Addr())
		if err != nil {
			b.Fatal(err)
		}
		cb, err := cp.Successor(ctx)
		if err != nil {
			b.Fatal(err)
		}
		<-bp.Done()
		<-cp.Done()
		if err := cb.Hangup(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cycles/s")
}
