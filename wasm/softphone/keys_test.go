package softphone

import (
	"testing"

	"github.com/parkway/parkway/signaling"
)

func TestShortcuts(t *testing.T) {
	cases := []struct {
		key              string
		typing, modified bool
		want             any
	}{
		{"a", false, false, Press{signaling.ActionAnswer}},
		{"A", false, false, Press{signaling.ActionAnswer}},
		{"d", false, false, Press{signaling.ActionDecline}},
		{"h", false, false, HoldToggle{}},
		{"m", false, false, Press{signaling.ActionMute}},
		{"Escape", false, false, Press{signaling.ActionHangup}},
		{"n", false, false, FocusNumber{}},
		{"7", false, false, Digit{"7"}},
		{"#", false, false, Digit{"#"}},
		{"a", true, false, nil},      // typing a name
		{"Escape", true, false, nil}, // leaving a field is the browser's
		{"m", false, true, nil},      // Ctrl+M and friends are the browser's
		{"x", false, false, nil},
		{"Enter", false, false, nil}, // Enter is the focused button's or the form's
	}
	for _, c := range cases {
		got, ok := Shortcut(c.key, c.typing, c.modified)
		if ok != (c.want != nil) || got != c.want {
			t.Errorf("%q typing=%v modified=%v: %v %v, want %v", c.key, c.typing, c.modified, got, ok, c.want)
		}
	}
}
