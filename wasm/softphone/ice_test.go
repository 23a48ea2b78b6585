package softphone

import (
	"testing"

	"github.com/parkway/parkway/signaling"
)

func TestUnsentSkipsCandidatesTheOfferCarries(t *testing.T) {
	sdp := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0\r\n"
	queued := []signaling.ICE{
		{Candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0"},
		{Candidate: "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host generation 0"}, // a prefix of the one sent
		{Candidate: "candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0"},
		{Candidate: ""},
	}
	got := Unsent(queued, sdp)
	if len(got) != 3 || got[0].Candidate != queued[1].Candidate || got[1].Candidate != queued[2].Candidate || got[2].Candidate != "" {
		t.Fatalf("unsent: %+v", got)
	}
	if got := Unsent(queued, sdp+"a=candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host generation 0\r\na=candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0\r\na=end-of-candidates\r\n"); len(got) != 0 {
		t.Fatalf("a complete offer leaves nothing to trickle: %+v", got)
	}
}
