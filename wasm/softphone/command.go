package softphone

import (
	"sort"
	"strconv"
	"strings"

	"github.com/parkway/parkway/signaling"
)

// Command is one thing the user (a button, a key, the page's JavaScript API) asks of
// the phone. Call "" means the call in focus when the loop carries it out.
type Command struct {
	Name    string           // the API's name for it: dial, answer, …, dtmf
	Act     signaling.Action // "" for dtmf, which the tab does itself
	Call    string
	Target  string
	Consult string
	Orbit   string
	Digits  string
	Muted   *bool
	// Reply settles the API's promise; nil for the page's own controls.
	Reply Reply
}

// Reply is how a command from the JavaScript API learns its outcome: exactly one of
// its methods is called, OK with the call it concerned ("" for none), or Fail.
type Reply interface {
	OK(call string)
	Fail(e *APIError)
}

// Request is the signaling request for c.
func (c Command) Request() *signaling.Request {
	return &signaling.Request{Action: c.Act, Call: c.Call, Target: c.Target, Consult: c.Consult, Orbit: c.Orbit, Muted: c.Muted}
}

// APIError is how the JavaScript API rejects: a signaling error code (or bad-command,
// not-ready), the sentence, and the argument at fault.
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// API error codes of the tab's own, beside signaling.ErrorCode's.
const (
	CodeBadCommand = "bad-command" // an unknown command or malformed arguments
	CodeNotReady   = "not-ready"   // the session is not up yet (or is reconnecting)
)

// apiCommands names each command of window.parkway.command and the arguments it takes.
var apiCommands = map[string]struct {
	act  signaling.Action
	args []string
}{
	"dial":     {signaling.ActionCall, []string{"target"}},
	"answer":   {signaling.ActionAnswer, []string{"call"}},
	"decline":  {signaling.ActionDecline, []string{"call"}},
	"hangup":   {signaling.ActionHangup, []string{"call"}},
	"hold":     {signaling.ActionHold, []string{"call"}},
	"resume":   {signaling.ActionResume, []string{"call"}},
	"transfer": {signaling.ActionTransfer, []string{"call", "target", "consult"}},
	"park":     {signaling.ActionPark, []string{"call", "orbit"}},
	"retrieve": {signaling.ActionRetrieve, []string{"orbit"}},
	"mute":     {signaling.ActionMute, []string{"call", "muted"}},
	"dtmf":     {"", []string{"digits"}},
}

// validDigits: the RFC 4733 §3.2 events a keypad has (0-9 * # A-D), at most 32 at once
// (^[0-9*#A-Da-d]{1,32}$). By hand, not with regexp, so the client's build leaves the
// regexp package out (issue #12).
func validDigits(s string) bool {
	if len(s) < 1 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', c == '*', c == '#', 'A' <= c && c <= 'D', 'a' <= c && c <= 'd':
		default:
			return false
		}
	}
	return true
}

// ParseCommand checks a JavaScript API call: a known name, only the arguments that
// name takes, each of the right type and shape. The shapes are the contract's own:
// the request is run through signaling's decoder, so the page refuses exactly what the
// gateway would refuse as malformed, with the same words.
func ParseCommand(name string, args map[string]any) (Command, *APIError) {
	spec, ok := apiCommands[name]
	if !ok {
		names := make([]string, 0, len(apiCommands))
		for n := range apiCommands {
			names = append(names, n)
		}
		sort.Strings(names)
		return Command{}, &APIError{Code: CodeBadCommand, Message: "unknown command " + strconv.Quote(name) + "; the commands are " + strings.Join(names, ", ")}
	}
	c := Command{Name: name, Act: spec.act}
	allowed := map[string]bool{}
	for _, a := range spec.args {
		allowed[a] = true
	}
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := args[k]
		if !allowed[k] {
			return Command{}, &APIError{Code: CodeBadCommand, Field: k, Message: name + " takes no " + strconv.Quote(k) + " argument (it takes " + strings.Join(spec.args, ", ") + ")"}
		}
		if v == nil {
			continue // an explicit null or undefined is the default
		}
		if k == "muted" {
			b, ok := v.(bool)
			if !ok {
				return Command{}, &APIError{Code: CodeBadCommand, Field: k, Message: "must be true or false"}
			}
			c.Muted = &b
			continue
		}
		s, ok := v.(string)
		if !ok {
			return Command{}, &APIError{Code: CodeBadCommand, Field: k, Message: "must be a string"}
		}
		s = strings.TrimSpace(s)
		switch k {
		case "call":
			c.Call = s
		case "target":
			c.Target = s
		case "consult":
			c.Consult = s
		case "orbit":
			c.Orbit = s
		case "digits":
			c.Digits = strings.ToUpper(s)
		}
	}
	switch name {
	case "dial":
		if c.Target == "" {
			return Command{}, &APIError{Code: CodeBadCommand, Field: "target", Message: "is required: whom to call (a user name, a number or an orbit)"}
		}
	case "retrieve":
		if c.Orbit == "" {
			return Command{}, &APIError{Code: CodeBadCommand, Field: "orbit", Message: "is required: the orbit the call is parked on"}
		}
	case "mute":
		if c.Muted == nil {
			return Command{}, &APIError{Code: CodeBadCommand, Field: "muted", Message: "is required: true to mute, false to unmute"}
		}
	case "transfer":
		if c.Target != "" && c.Consult != "" {
			return Command{}, &APIError{Code: CodeBadCommand, Field: "consult", Message: "names the call of an attended transfer; a blind transfer takes target alone"}
		}
	case "dtmf":
		if !validDigits(c.Digits) {
			return Command{}, &APIError{Code: CodeBadCommand, Field: "digits", Message: "must be 1 to 32 keypad digits: 0-9, *, #, A-D"}
		}
		return c, nil
	}
	if e := checkRequest(c); e != nil {
		return Command{}, e
	}
	return c, nil
}

// checkRequest runs c's request through the contract's decoder, as the gateway will.
// Call-dependent rules (a transfer with neither target nor consult, which the focus
// may supply) are left to the moment the command runs.
func checkRequest(c Command) *APIError {
	req := c.Request()
	if req.Call == "" {
		req.Call = "focus" // filled in later; a placeholder that is a valid call id
	}
	if c.Act == signaling.ActionTransfer && req.Target == "" && req.Consult == "" {
		req.Target = "placeholder"
	}
	if req.Consult != "" && req.Consult == req.Call {
		return &APIError{Code: CodeBadCommand, Field: "consult", Message: "must be another call than the one transferred"}
	}
	b, err := signaling.Encode("", req)
	if err != nil {
		return &APIError{Code: CodeBadCommand, Message: err.Error()}
	}
	if _, _, err := signaling.Decode(signaling.FromClient, b); err != nil {
		e, ok := err.(*signaling.Error)
		if !ok {
			return &APIError{Code: CodeBadCommand, Message: err.Error()}
		}
		return &APIError{Code: CodeBadCommand, Field: e.Field, Message: e.Message}
	}
	return nil
}
