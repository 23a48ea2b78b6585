package audiosdp

import "testing"

func TestParseDirectionString(t *testing.T) {
	for d := SendRecv; d <= Inactive; d++ {
		if got, ok := ParseDirection(d.String()); !ok || got != d {
			t.Errorf("ParseDirection(%q) = %v, %v", d, got, ok)
		}
	}
	if _, ok := ParseDirection("sideways"); ok {
		t.Error("Parse accepted sideways")
	}
}

func TestDirectionAnswerAnd(t *testing.T) {
	for _, tc := range []struct {
		offer            Direction
		wantSend, wantRv bool
		want             Direction
	}{
		{SendRecv, true, true, SendRecv},
		{SendOnly, true, true, RecvOnly}, // they hold us
		{RecvOnly, true, true, SendOnly},
		{Inactive, true, true, Inactive},
		{SendRecv, true, false, SendOnly}, // we hold and they re-offer sendrecv
		{SendOnly, true, false, Inactive}, // both hold
		{RecvOnly, true, false, SendOnly},
		{Direction(9), true, true, Inactive},
	} {
		if got := tc.offer.Answer(tc.wantSend, tc.wantRv); got != tc.want {
			t.Errorf("%s.Answer(%v,%v) = %s, want %s", tc.offer, tc.wantSend, tc.wantRv, got, tc.want)
		}
	}
	// A peer answering our sendonly with sendrecv still leaves us sendonly.
	if got := SendOnly.And(SendRecv); got != SendOnly {
		t.Errorf("sendonly.And(sendrecv) = %s", got)
	}
	if got := RecvOnly.And(SendOnly); got != Inactive {
		t.Errorf("recvonly.And(sendonly) = %s", got)
	}
}
