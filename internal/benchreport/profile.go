package benchreport

import (
	"fmt"
	"os"
	"strings"

	"github.com/google/pprof/profile"
)

// Bucket is one kind of work in a CPU profile: a sample is the first bucket's, in order,
// that claims one of its frames, walking from the running function to its callers. The
// resource buckets (the kernel, memory, stacks, timers, the scheduler) come first, so
// that a parser's allocation counts as allocation and a proxy's send as the kernel's;
// then the layers of the code.
type Bucket struct {
	Name  string
	Funcs []string // function-name prefixes (package path included) that claim a frame
}

// PoolBuckets sort a pool's CPU profile (`parkway pool --cpuprofile`).
var PoolBuckets = []Bucket{
	{"kernel: datagrams sent and read, polling (syscalls)", []string{"syscall.", "internal/runtime/syscall.", "internal/runtime/syscall/", "runtime/internal/syscall."}},
	{"garbage collector", []string{"runtime.gcBgMarkWorker", "runtime.gcDrain", "runtime.gcAssistAlloc", "runtime.scanobject", "runtime.markroot", "runtime.bgsweep", "runtime.sweepone", "runtime.(*sweepLocked)", "runtime.gcStart", "runtime.stopTheWorld", "runtime.(*gcWork)"}},
	{"memory allocation", []string{"runtime.mallocgc", "runtime.newobject", "runtime.makeslice", "runtime.growslice", "runtime.makemap", "runtime.mapassign", "runtime.slicebytetostring", "runtime.concatstring", "runtime.rawstring", "runtime.(*mcache)", "runtime.(*mcentral)", "runtime.(*mheap)"}},
	{"goroutine stacks growing (copying)", []string{"runtime.newstack", "runtime.copystack", "runtime.morestack"}},
	{"timers", []string{"runtime.(*timer)", "runtime.(*timers)", "time.AfterFunc", "time.NewTimer", "time.(*Timer)", "time.newTimer", "runtime.newTimer"}},
	{"scheduler: goroutine switches and wake-ups", []string{"runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.goready", "runtime.ready", "runtime.futex", "runtime.mcall", "runtime.gopark", "runtime.selectgo", "runtime.chansend", "runtime.chanrecv", "runtime.netpoll", "runtime.wakep", "runtime.newproc", "runtime.goexit0", "runtime.lock", "runtime.unlock", "sync.", "internal/sync."}},
	{"SIP parsing (sipgo)", []string{"github.com/emiago/sipgo/sip.(*Parser)", "github.com/emiago/sipgo/sip.Parse", "github.com/emiago/sipgo/sip.HeadersParser", "github.com/emiago/sipgo/sip.parse"}},
	{"SIP writing (sipgo)", []string{"github.com/emiago/sipgo/sip.(*Request).String", "github.com/emiago/sipgo/sip.(*Response).String", "github.com/emiago/sipgo/sip.(*headers).String"}},
	{"SIP transactions and transport (sipgo)", []string{"github.com/emiago/sipgo"}},
	{"music on hold (park service)", []string{"github.com/parkway/parkway/park.(*player", "github.com/parkway/parkway/park.(*playerBatch"}},
	{"park service", []string{"github.com/parkway/parkway/park."}},
	{"pool: proxy, registrar, admission gate", []string{"github.com/parkway/parkway/"}},
}

// GatewayBuckets sort a gateway's CPU profile (`parkway gateway --cpuprofile`) under
// calls: media's syscalls first, then the runtime's parts as for a pool, then the WebRTC
// stack by layer, signaling and SIP, and the gateway's own code.
var GatewayBuckets = append(append([]Bucket(nil), PoolBuckets[:6]...),
	Bucket{"SRTP and DTLS: encryption (pion srtp/dtls, crypto)", []string{"github.com/pion/srtp", "github.com/pion/dtls", "crypto/", "vendor/golang.org/x/crypto", "golang.org/x/crypto"}},
	Bucket{"ICE and STUN: consent checks, candidate pairs (pion ice/stun)", []string{"github.com/pion/ice", "github.com/pion/stun", "github.com/pion/turn", "github.com/pion/transport"}},
	Bucket{"the rest of pion: RTP/RTCP, PeerConnection (webrtc, rtp, rtcp, interceptor, sctp)", []string{"github.com/pion/"}},
	Bucket{"websocket signaling (coder/websocket)", []string{"github.com/coder/websocket"}},
	Bucket{"SIP (sipgo)", []string{"github.com/emiago/sipgo"}},
	Bucket{"media: the calls' bridges and legs", []string{"github.com/parkway/parkway/media"}},
	Bucket{"gateway: sessions, phone, user agents", []string{"github.com/parkway/parkway/"}},
)

// Share is one bucket's part of a profile.
type Share struct {
	Name    string
	Seconds float64 // CPU time of its samples
}

// CPUBreakdown sorts the samples of the CPU profile at path into buckets (the last share
// is "other": what no bucket claims). total is the profile's CPU time, span its duration.
func CPUBreakdown(path string, buckets []Bucket) (shares []Share, total, span float64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	value := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			value = i
		}
	}
	if value < 0 {
		return nil, 0, 0, fmt.Errorf("%s: not a CPU profile (no cpu/nanoseconds sample type)", path)
	}
	sums := make([]float64, len(buckets)+1)
	for _, s := range p.Sample {
		ns := float64(s.Value[value])
		sums[bucketOf(s, buckets, len(buckets))] += ns
		total += ns
	}
	for i, b := range buckets {
		shares = append(shares, Share{b.Name, sums[i] / 1e9})
	}
	shares = append(shares, Share{"other", sums[len(buckets)] / 1e9})
	return shares, total / 1e9, float64(p.DurationNanos) / 1e9, nil
}

// bucketOf is the index of the bucket that claims sample s, or other.
func bucketOf(s *profile.Sample, buckets []Bucket, other int) int {
	for _, loc := range s.Location { // the running function first
		for _, line := range loc.Line { // inlined functions first
			if line.Function == nil {
				continue
			}
			for i, b := range buckets {
				for _, prefix := range b.Funcs {
					if strings.HasPrefix(line.Function.Name, prefix) {
						return i
					}
				}
			}
		}
	}
	return other
}
