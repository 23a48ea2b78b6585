package parkanchor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata/sippout holds the files of a real SIPp 3.6.1 run of retriever.xml whose one
// call timed out (no Asterisk listening).
func TestReadSIPpCountsOfARealRun(t *testing.T) {
	c, err := ReadSIPpCounts("testdata/sippout/stat.csv", "testdata/sippout/counts.csv")
	if err != nil {
		t.Fatal(err)
	}
	if c != (SIPpCounts{Successful: 0, Failed: 1, Refused: 0}) {
		t.Fatalf("counts %+v, want one failed call and no 503", c)
	}
}

func TestReadSIPpCountsAdds503sOfEveryRecvColumn(t *testing.T) {
	dir := t.TempDir()
	stat := filepath.Join(dir, "stat.csv")
	counts := filepath.Join(dir, "counts.csv")
	os.WriteFile(stat, []byte("StartTime;SuccessfulCall(C);FailedCall(C);\nx;1;1;\nx;7;5;\n"), 0o600)
	os.WriteFile(counts, []byte("CurrentTime;0_INVITE_Sent;4_503_Recv;4_503_Retrans;12_503_Recv;\nx;12;1;9;0;\nx;12;2;9;1;\n"), 0o600)
	c, err := ReadSIPpCounts(stat, counts)
	if err != nil {
		t.Fatal(err)
	}
	if c != (SIPpCounts{Successful: 7, Failed: 5, Refused: 3}) {
		t.Fatalf("counts %+v, want the last line's 7 and 5 and 2+1 503s (retransmissions not counted)", c)
	}
}

func TestReadSIPpCountsSaysWhatIsMissing(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.csv")
	os.WriteFile(empty, []byte("StartTime;SuccessfulCall(C);FailedCall(C);\n"), 0o600)
	if _, err := ReadSIPpCounts(empty, ""); err == nil || !strings.Contains(err.Error(), "no data line") {
		t.Fatalf("header only: %v, want no data line", err)
	}
	noColumn := filepath.Join(dir, "nocolumn.csv")
	os.WriteFile(noColumn, []byte("StartTime;SuccessfulCall(C);\nx;3;\n"), 0o600)
	if _, err := ReadSIPpCounts(noColumn, ""); err == nil || !strings.Contains(err.Error(), `"FailedCall(C)"`) {
		t.Fatalf("missing column: %v, want it named", err)
	}
	if _, err := ReadSIPpCounts(filepath.Join(dir, "absent.csv"), ""); err == nil {
		t.Fatal("absent file: no error")
	}
}

func TestWriteAsteriskConfigParksIntoTheChosenSlot(t *testing.T) {
	cfg := AsteriskConfig{Dir: t.TempDir(), ModulesDir: "/m", SIPPort: 5070, BobPort: 5071,
		FirstSlot: 10000, Slots: 100, RTPStart: 10000, RTPEnd: 20000}
	if err := WriteAsteriskConfig(cfg); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(cfg.Dir, "etc", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	for file, want := range map[string][]string{
		"res_parking.conf": {"parkpos = 10000-10099", "context = parkedcalls"},
		"extensions.conf":  {"Set(PARKINGEXTEN=${EXTEN})", "Park(default,s)", "include => parkedcalls", "Dial(PJSIP/bob)"},
		"pjsip.conf":       {"bind = 127.0.0.1:5070", "contact = sip:bob@127.0.0.1:5071", "context=park-in", "context=park-out"},
		"cdr.conf":         {"enable = no"},
		"cel.conf":         {"enable = no"},
		"logger.conf":      {"console => error"},
		"asterisk.conf":    {"astmoddir => /m"},
	} {
		body := read(file)
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q:\n%s", file, w, body)
			}
		}
	}
	if got := []int{cfg.Slot(0), cfg.Slot(99), cfg.Slot(100)}; got[0] != 10000 || got[1] != 10099 || got[2] != 10000 {
		t.Errorf("slots %v, want 10000 10099 10000 (cycles take the slots in turn)", got)
	}
	if err := WriteAsteriskConfig(AsteriskConfig{Dir: t.TempDir()}); err == nil {
		t.Error("an empty config was written")
	}
}
