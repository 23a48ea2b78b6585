package park

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestPlayerSharedAndStops: streams share the one player; a closed stream gets no
// packet once close returned while the others go on, and the player's goroutine ends
// when no stream plays.
func TestPlayerSharedAndStops(t *testing.T) {
	music, err := loadMusic("builtin:pool-b")
	if err != nil {
		t.Fatal(err)
	}
	var open atomic.Int64
	type pair struct {
		st   *stream
		sink *net.UDPConn
	}
	var pairs []pair
	for i := 0; i < 3; i++ {
		sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer sink.Close()
		st, err := newStream(net.IPv4(127, 0, 0, 1), &open)
		if err != nil {
			t.Fatal(err)
		}
		st.play(sink.LocalAddr().(*net.UDPAddr), 0, music)
		pairs = append(pairs, pair{st, sink})
	}
	buf := make([]byte, 1500)
	read := func(c *net.UDPConn, wait time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(wait))
		_, err := c.Read(buf)
		return err == nil
	}
	for i, p := range pairs {
		if !read(p.sink, 10*time.Second) {
			t.Fatalf("stream %d: no music within 10 s", i)
		}
	}
	pairs[0].st.close()
	// Drain what was sent before close returned, then expect silence on that sink.
	for read(pairs[0].sink, time.Millisecond) {
	}
	if read(pairs[0].sink, 200*time.Millisecond) {
		t.Error("a closed stream still got music")
	}
	if !read(pairs[1].sink, 10*time.Second) {
		t.Error("closing one stream stopped the others")
	}
	pairs[1].st.close()
	pairs[2].st.close()
	if open.Load() != 0 {
		t.Errorf("%d streams still counted open", open.Load())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		musicPlayer.mu.Lock()
		running := musicPlayer.running
		musicPlayer.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the music player still runs 10 s after the last stream closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPlayerSnapshotGroupsBySocket: the player's snapshot holds every playing stream
// once, those of one socket next to each other (each socket's frames go out in one
// batch), whatever order the streams came in.
func TestPlayerSnapshotGroupsBySocket(t *testing.T) {
	a, b, c := &mediaSocket{key: "a"}, &mediaSocket{key: "b"}, &mediaSocket{key: "c"}
	p := &player{streams: map[*stream]struct{}{}}
	var all []*stream
	for i := 0; i < 30; i++ {
		s := &stream{sock: []*mediaSocket{a, b, c}[i%3]}
		p.streams[s] = struct{}{}
		all = append(all, s)
	}
	for round := 0; round < 5; round++ { // map order differs from one snapshot to the next
		snap, socks := p.snapshot(nil, nil)
		if len(snap) != len(all) || len(socks) != 3 {
			t.Fatalf("snapshot of %d streams on 3 sockets: %d streams, %d sockets", len(all), len(snap), len(socks))
		}
		seen := map[*stream]bool{}
		done := map[*mediaSocket]bool{}
		for i, s := range snap {
			if seen[s] {
				t.Fatalf("stream %d twice in the snapshot", i)
			}
			seen[s] = true
			if i > 0 && snap[i-1].sock != s.sock {
				done[snap[i-1].sock] = true
			}
			if done[s.sock] {
				t.Fatalf("socket %q's streams are not next to each other: %v", s.sock.key, snapKeys(snap))
			}
		}
	}
}

func snapKeys(snap []*stream) []string {
	var k []string
	for _, s := range snap {
		k = append(k, s.sock.key)
	}
	return k
}
