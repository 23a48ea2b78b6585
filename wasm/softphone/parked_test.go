package softphone

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
	want := []ParkedRow{
		{Orbit: "7001", Peer: "bob", By: "alice", Left: "42 s left", Seconds: 42},
		{Orbit: "7002", Peer: "carol", Left: "1 s left", Seconds: 1},
		{Orbit: "7003", Peer: "unknown caller", By: "dave", Left: "0 s left", Seconds: 0},
		{Orbit: "7004", Peer: "+15551234", By: "alice", Left: "ringing back", Seconds: -1},
		{Orbit: "7005", Peer: "erin", By: "alice", Left: "no timeout", Seconds: -1},
	}
	if got := ParkedRows(p, now); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows:\n got %+v\nwant %+v", got, want)
	}
	if got := ParkedRows(nil, now); len(got) != 0 {
		t.Fatalf("no list: %+v", got)
	}
	if h := ParkedHeading(p); h != "Parked on pool-a" {
		t.Fatalf("heading %q", h)
	}
	if h := ParkedHeading(nil); h != "Parked calls" {
		t.Fatalf("heading without a list %q", h)
	}
}

// Each call names its pool only when that says something: calls on more than one
// pool, or on another than the active one (parked on the backup, after failback).
func TestParkedRowsNameTheirPool(t *testing.T) {
	ms := t0.UnixMilli()
	home := &signaling.Parked{Pool: "pool-a", Calls: []signaling.ParkedCall{
		{Orbit: "7001", Pool: "pool-a", Peer: "bob", Since: ms},
	}}
	if rows := ParkedRows(home, t0); rows[0].ShowPool || rows[0].Pool != "pool-a" || ParkedHeading(home) != "Parked on pool-a" {
		t.Fatalf("calls on the active pool alone: rows %+v, heading %q", rows, ParkedHeading(home))
	}
	backup := &signaling.Parked{Pool: "pool-a", Calls: []signaling.ParkedCall{
		{Orbit: "8000", Pool: "pool-b", Peer: "dave", Since: ms},
	}}
	if rows := ParkedRows(backup, t0); !rows[0].ShowPool || rows[0].Pool != "pool-b" || ParkedHeading(backup) != "Parked calls" {
		t.Fatalf("a call on the backup after failback: rows %+v, heading %q", rows, ParkedHeading(backup))
	}
	both := &signaling.Parked{Pool: "pool-b", Calls: []signaling.ParkedCall{
		{Orbit: "7001", Pool: "pool-a", Peer: "bob", Since: ms},
		{Orbit: "8000", Pool: "pool-b", Peer: "dave", Since: ms},
	}}
	rows := ParkedRows(both, t0)
	if !rows[0].ShowPool || !rows[1].ShowPool || rows[0].Pool != "pool-a" || rows[1].Pool != "pool-b" {
		t.Fatalf("calls on both pools: rows %+v", rows)
	}
	none := &signaling.Parked{Pool: "pool-a", Calls: []signaling.ParkedCall{{Orbit: "7001", Peer: "bob", Since: ms}}}
	if rows := ParkedRows(none, t0); rows[0].ShowPool || ParkedHeading(none) != "Parked on pool-a" {
		t.Fatalf("calls without a pool (an older gateway): rows %+v", rows)
	}
}
