package softphone

import "github.com/parkway/parkway/signaling"

// Keyboard shortcuts, documented on the page: A answer, D decline, H hold or resume,
// M mute, Esc hang up, N the Number field, and 0-9 * # the keypad. None of them acts
// while the user types in a field — there Enter alone means Call (or Retrieve in
// Orbit), through the field's form — nor with Ctrl, Alt or Meta held, which belong to
// the browser.

// Inputs of the page that a key can stand for; the page's controls make them too.
type (
	// Press is a control's button (or Enter in a field, meaning its action).
	Press struct{ Act signaling.Action }
	// HoldToggle is the H key: hold the focus call, or resume it.
	HoldToggle struct{}
	// FocusNumber is the N key: put the cursor in the Number field.
	FocusNumber struct{}
	// Digit is a keypad key, or a digit key.
	Digit struct{ Key string }
)

// Shortcut maps a key to the input it stands for. typing says the key went to a text
// field; modified that Ctrl, Alt or Meta was held.
func Shortcut(key string, typing, modified bool) (any, bool) {
	if typing || modified {
		return nil, false
	}
	switch key {
	case "a", "A":
		return Press{Act: signaling.ActionAnswer}, true
	case "d", "D":
		return Press{Act: signaling.ActionDecline}, true
	case "h", "H":
		return HoldToggle{}, true
	case "m", "M":
		return Press{Act: signaling.ActionMute}, true
	case "Escape":
		return Press{Act: signaling.ActionHangup}, true
	case "n", "N":
		return FocusNumber{}, true
	case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#":
		return Digit{Key: key}, true
	}
	return nil, false
}
