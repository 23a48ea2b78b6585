package parkanchor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// AsteriskConfig is what WriteAsteriskConfig needs to know about one run.
type AsteriskConfig struct {
	Dir        string // the run's directory: etc/, run/, log/, var/ and moh/ are made in it
	ModulesDir string // the installed modules, <cache>/lib/asterisk/modules
	SIPPort    int    // chan_pjsip's UDP port on 127.0.0.1
	BobPort    int    // the parked party's SIPp (a static contact: Asterisk dials bob there)
	FirstSlot  int    // the parking lot's slots are FirstSlot … FirstSlot+Slots-1
	Slots      int
	RTPStart   int // Asterisk's RTP port range; keep it clear of the SIPp ports
	RTPEnd     int
}

// Slot is the slot cycle i parks in and is retrieved from: cycles take the slots in turn.
func (c AsteriskConfig) Slot(i int) int { return c.FirstSlot + i%c.Slots }

// ConfigFile is the asterisk.conf to start Asterisk with (-C).
func (c AsteriskConfig) ConfigFile() string { return filepath.Join(c.Dir, "etc", "asterisk.conf") }

// ControlSocket is where `asterisk -r` finds the running instance.
func (c AsteriskConfig) ControlSocket() string {
	return filepath.Join(c.Dir, "run", "asterisk.ctl")
}

// WriteAsteriskConfig writes a configuration for one Asterisk run into c.Dir.
//
// The flow: alice (endpoint alice, context park-in) calls bob (Dial to his static contact)
// and REFERs him to a slot number; the blind transfer runs that number in park-in for
// bob's channel, which sets PARKINGEXTEN and parks him there with Park(default,s) (s: no
// announcement of the slot). carol (context park-out) dials the slot: res_parking's own
// extension in parkedcalls runs ParkedCall. Music on hold plays to the parked calls from a
// file, as the pool plays music to its parked calls. Connected-line updates and session
// timers are off, so the only SIP traffic is the flow's.
func WriteAsteriskConfig(c AsteriskConfig) error {
	if c.Slots <= 0 || c.FirstSlot <= 0 || c.SIPPort <= 0 || c.BobPort <= 0 || c.RTPStart <= 0 || c.RTPEnd <= c.RTPStart {
		return fmt.Errorf("asterisk config: incomplete %+v", c)
	}
	dirs := map[string]string{}
	for _, d := range []string{"etc", "run", "log", "var", "spool", "moh"} {
		dirs[d] = filepath.Join(c.Dir, d)
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			return err
		}
	}
	// 20 s of µ-law noise: what the parked calls hear; its content does not matter for CPU.
	moh := make([]byte, 8000*20)
	for i := range moh {
		moh[i] = byte(i*7919>>3) | 1
	}
	if err := os.WriteFile(filepath.Join(dirs["moh"], "hold.ulaw"), moh, 0o644); err != nil {
		return err
	}
	endpoint := func(name, context string) string {
		return fmt.Sprintf(`[%s]
type=endpoint
transport=udp
context=%s
disallow=all
allow=ulaw
direct_media=no
timers=no
send_connected_line=no
trust_connected_line=no
send_pai=no
send_rpid=no
rtp_symmetric=yes
allow_transfer=yes
`, name, context)
	}
	files := map[string]string{
		"asterisk.conf": fmt.Sprintf(`[directories]
astetcdir => %[1]s
astmoddir => %[2]s
astvarlibdir => %[3]s
astdbdir => %[3]s
astkeydir => %[3]s
astdatadir => %[3]s
astagidir => %[3]s
astspooldir => %[4]s
astrundir => %[5]s
astlogdir => %[6]s
astsbindir => %[5]s

[options]
verbose = 0
debug = 0
hideconnect = yes
transmit_silence = no
`, dirs["etc"], c.ModulesDir, dirs["var"], dirs["spool"], dirs["run"], dirs["log"]),
		"modules.conf": `[modules]
autoload = yes
`,
		"logger.conf": `[general]
[logfiles]
console => error
`,
		"cdr.conf": "[general]\nenable = no\n",
		"cel.conf": "[general]\nenable = no\n",
		"rtp.conf": fmt.Sprintf("[general]\nrtpstart = %d\nrtpend = %d\n", c.RTPStart, c.RTPEnd),
		"musiconhold.conf": fmt.Sprintf(`[default]
mode = files
directory = %s
`, dirs["moh"]),
		"res_parking.conf": fmt.Sprintf(`[general]
parkeddynamic = no

[default]
context = parkedcalls
parkext = 700
parkpos = %d-%d
parkingtime = 90
parkedmusicclass = default
comebacktoorigin = no
comebackcontext = parking-timeout
`, c.FirstSlot, c.FirstSlot+c.Slots-1),
		"extensions.conf": `[general]
static = yes
writeprotect = yes

[park-in]
exten => bob,1,Dial(PJSIP/bob)
exten => _X.,1,Set(PARKINGEXTEN=${EXTEN})
 same => n,Park(default,s)

[park-out]
include => parkedcalls

[parking-timeout]
exten => _X.,1,Hangup()
`,
		"pjsip.conf": fmt.Sprintf(`[global]
type = global
user_agent = asterisk-anchor
endpoint_identifier_order = username,ip

[udp]
type = transport
protocol = udp
bind = 127.0.0.1:%d

%s
%s
%s
[bob]
type = aor
contact = sip:bob@127.0.0.1:%d
`, c.SIPPort, endpoint("alice", "park-in"), endpoint("carol", "park-out"),
			endpoint("bob", "park-in")+"aors = bob\n", c.BobPort),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dirs["etc"], name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// SIPpCounts is how one SIPp run's calls ended.
type SIPpCounts struct {
	Successful int // calls that ran their scenario to the end
	Failed     int // calls that did not (503s included)
	Refused    int // 503 responses received (the scenarios stop the call on one)
}

// ReadSIPpCounts reads a SIPp run's -trace_stat file (semicolon-separated, cumulative
// counters, the last line the final one) and, when countsFile is not empty, its
// -trace_counts file, whose columns named <index>_503_Recv count the 503s received.
func ReadSIPpCounts(statFile, countsFile string) (SIPpCounts, error) {
	var c SIPpCounts
	stat, err := lastRecord(statFile)
	if err != nil {
		return c, err
	}
	if c.Successful, err = stat.int("SuccessfulCall(C)"); err != nil {
		return c, fmt.Errorf("%s: %w", statFile, err)
	}
	if c.Failed, err = stat.int("FailedCall(C)"); err != nil {
		return c, fmt.Errorf("%s: %w", statFile, err)
	}
	if countsFile == "" {
		return c, nil
	}
	counts, err := lastRecord(countsFile)
	if err != nil {
		return c, err
	}
	for name := range counts {
		if strings.HasSuffix(name, "_503_Recv") {
			n, err := counts.int(name)
			if err != nil {
				return c, fmt.Errorf("%s: %w", countsFile, err)
			}
			c.Refused += n
		}
	}
	return c, nil
}

// record is one line of a SIPp CSV file by column name.
type record map[string]string

func (r record) int(name string) (int, error) {
	v, ok := r[name]
	if !ok {
		return 0, fmt.Errorf("no column %q", name)
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("column %q: %w", name, err)
	}
	return n, nil
}

// lastRecord reads the header and the last data line of a semicolon-separated SIPp file.
func lastRecord(path string) (record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseLastRecord(f, path)
}

func parseLastRecord(r io.Reader, name string) (record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var header, last []string
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), ";\r")
		if line == "" {
			continue
		}
		if header == nil {
			header = strings.Split(line, ";")
			continue
		}
		last = strings.Split(line, ";")
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if last == nil {
		return nil, errors.New(name + ": no data line")
	}
	rec := record{}
	for i, h := range header {
		if i < len(last) {
			rec[h] = last[i]
		}
	}
	return rec, nil
}
