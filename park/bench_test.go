package park

import (
	"context"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/park/parkwire"
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
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		bp, err := bob.Call(ctx, "sip:park@"+s.Addr(), rb)
		if err != nil {
			b.Fatal(err)
		}
		cp, err := carol.Call(ctx, "sip:"+bp.Header(parkwire.OrbitHeader)+"@"+s.Addr())
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
	// CPU of the whole process: the service and the three phones with
	// their RTP, so an upper bound for the service alone.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/cycle")
}

// BenchmarkMusicOnHold measures what music on hold costs: 100 streams
// (a full demo orbit range) paced to one sink for the benchmark's time,
// reported as CPU time per second of one stream.
func BenchmarkMusicOnHold(b *testing.B) {
	music, err := loadMusic("builtin:pool-a")
	if err != nil {
		b.Fatal(err)
	}
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	go func() { // drain, as a phone would
		buf := make([]byte, 1500)
		for {
			if _, _, err := sink.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	var open atomic.Int64
	const streams = 100
	var all []*stream
	for i := 0; i < streams; i++ {
		st, err := newStream(net.IPv4(127, 0, 0, 1), &open)
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, st)
	}
	cpu0 := cpuTime()
	start := time.Now()
	for _, st := range all {
		st.play(sink.LocalAddr().(*net.UDPAddr), 0, music)
	}
	// One op = one 20 ms frame interval of all streams.
	for i := 0; i < b.N; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	wall := time.Since(start)
	cpu := cpuTime() - cpu0
	for _, st := range all {
		st.close()
	}
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/(wall.Seconds()*streams), "cpu-ms/stream-s")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%cpu-100-streams")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
