//go:build js && wasm

package main

import (
	"reflect"
	"testing"

	"github.com/parkway/parkway/signaling"
)

func TestParkedRows(t *testing.T) {
	now := t0
	ms := now.UnixMilli()
	p := &signaling.Parked{Pool: "pool-a", Calls: []signaling.ParkedCall{
		{Orbit: "7001", Peer: "bob", ParkedBy: "alice", Since: ms - 10_000, Expires: ms + 41_200, State: "parked"},
		{Orbit: "7002", Peer: "carol", Since: ms - 95_000, Expires: ms + 1, State: "parked"},
		{Orbit: "7003", Peer: "", ParkedBy: "dave", Since: ms, Expires: ms - 500},
		{Orbit: "7004", Peer: "+15551234", ParkedBy: "alice", Since: ms, Expires: ms - 500, State: "ringing-back"},
		{Orbit: "7005", Peer: "erin", ParkedBy: "alice", Since: ms},
	}}
	want := []parkedRow{
		{Orbit: "7001", Peer: "bob", By: "alice", Left: "42 s left", Seconds: 42},
		{Orbit: "7002", Peer: "carol", Left: "1 s left", Seconds: 1},
		{Orbit: "7003", Peer: "unknown caller", By: "dave", Left: "0 s left", Seconds: 0},
		{Orbit: "7004", Peer: "+15551234", By: "alice", Left: "ringing back", Seconds: -1},
		{Orbit: "7005", Peer: "erin", By: "alice", Left: "no timeout", Seconds: -1},
	}
	if got := parkedRows(p, now); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows:\n got %+v\nwant %+v", got, want)
	}
	if got := parkedRows(nil, now); len(got) != 0 {
		t.Fatalf("no list: %+v", got)
	}
	if h := parkedHeading(p); h != "Parked on pool-a" {
		t.Fatalf("heading %q", h)
	}
	if h := parkedHeading(nil); h != "Parked calls" {
		t.Fatalf("heading without a list %q", h)
	}
}
