package pool

import (
	"log/slog"

	"github.com/emiago/sipgo/sip"

	"github.com/parkway/parkway/sip/calltrace"
)

// logTraced logs a forwarded request that carries a trace id (package calltrace):
// at info level when it starts something (a call, a park, an out-of-dialog REFER or
// MESSAGE), at debug level inside a dialog. The proxy forwards the header as it is.
func (n *node) logTraced(req *sip.Request, t target, err error) {
	id := calltrace.From(req)
	if id == "" {
		return
	}
	level := slog.LevelInfo
	if inDialog(req) {
		level = slog.LevelDebug
	}
	n.log.Log(n.ctx, level, "proxied", "method", req.Method.String(), "user", req.Recipient.User, "to", t.addr, calltrace.Attr, id, "error", err)
}
