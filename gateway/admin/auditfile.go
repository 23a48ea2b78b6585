package admin

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
)

// AuditFile is the admin audit trail on disk (the gateway's `auditLog` config key): one
// JSON line per admin action and per refused token, appended to a file the operator
// names, beside the same record in the process log.
//
// What happens when the disk fails under it, deliberately: the gateway refuses to start
// when the file cannot be opened for appending (a read-only directory, a missing one),
// with an error naming the path ([OpenAuditFile]). Once running, a write that fails (a
// full disk) neither crashes the gateway nor refuses the admin action: failover and
// failback are what an operator needs most in exactly the kind of incident that fills
// disks, and the record is not lost — it is still in the process log, which always
// carries every action. The first failure of a streak is logged as an error naming the
// file and the cause, and the recovery as a notice, so a full disk is said once and
// not on every action.
type AuditFile struct {
	path string
	log  *slog.Logger // the process log, where write failures are reported

	mu      sync.Mutex
	f       *os.File
	failing bool // the last write failed; the next success is reported
	lost    int  // records the file missed since the streak began
}

// OpenAuditFile opens (creating it, mode 0600) the audit file at path for appending. Its
// error names the path and why, e.g. "admin audit log: open /var/lib/parkway/audit.log:
// read-only file system".
func OpenAuditFile(path string, log *slog.Logger) (*AuditFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("admin audit log: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &AuditFile{path: path, log: log, f: f}, nil
}

// Write appends one record; a failure is reported on the process log (once per streak)
// and returned.
func (a *AuditFile) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	end, seekErr := a.f.Seek(0, io.SeekEnd)
	n, err := a.f.Write(p)
	if err != nil && n > 0 && seekErr == nil {
		// A record cut short by the full disk would run into the next one: take it back,
		// so the file stays one whole JSON record per line.
		_ = a.f.Truncate(end)
	}
	switch {
	case err != nil && !a.failing:
		a.failing, a.lost = true, 1
		a.log.Error("admin audit log: cannot write; admin actions go on and are recorded in this log only until it can",
			"file", a.path, "err", err)
	case err != nil:
		a.lost++
	case a.failing:
		a.failing = false
		a.log.Info("admin audit log: writing again", "file", a.path, "missed", a.lost)
	}
	return n, err
}

// Close closes the file.
func (a *AuditFile) Close() error { return a.f.Close() }

// WithAuditFile appends every record the audit log gets (WithAuditLog) to f as well, as
// JSON lines.
func WithAuditFile(f *AuditFile) Option {
	return func(h *handler) { h.file = slog.New(slog.NewJSONHandler(f, nil)) }
}
