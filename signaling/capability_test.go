package signaling

import "testing"

// The seed ("Call Park experience in Lync Server 2013 during pool failure") and
// ARCHITECTURE.md §2, cell by cell: what a user can do in each phase. ✓ = allowed.
//
//	                        normal outage failover failed-over failback
//	place / answer a call     ✓      ✗       ✓         ✓          ✓
//	hold / resume             ✓      ✓       ✓         ✓          ✓
//	transfer                  ✓      ✗       ✓         ✓          ✓
//	park                      ✓      ✗       ✗         ✓          ✗
//	retrieve a parked call    ✓      ✗       ✗         ✓          ✓
var phaseTable = map[Action][5]bool{ // columns in Phases order
	// "During failover, call ... can be put on hold and transferred"; outage: no registrar.
	ActionCall:   {true, false, true, true, true},
	ActionAnswer: {true, false, true, true, true},
	ActionHold:   {true, true, true, true, true},
	ActionResume: {true, true, true, true, true},
	// "While in resiliency mode, users cannot park calls, but they can place calls on
	// hold and transfer them."
	ActionTransfer: {true, false, true, true, true},
	// "When failover is complete, calls can again be parked" / "During failback, users
	// cannot park calls until they are out of resiliency mode."
	ActionPark: {true, false, false, true, false},
	// Retrieval in failback goes beyond Lync: the call sits on the healthy backup.
	ActionRetrieve: {true, false, false, true, true},
	// Ending a call and muting need no pool.
	ActionHangup:  {true, true, true, true, true},
	ActionDecline: {true, true, true, true, true},
	ActionMute:    {true, true, true, true, true},
}

func TestPhaseAllowsEveryCell(t *testing.T) {
	if len(phaseTable) != len(Actions) {
		t.Fatalf("table covers %d actions, want all %d", len(phaseTable), len(Actions))
	}
	for a, row := range phaseTable {
		for i, p := range Phases {
			v := PhaseAllows(p, a)
			if v.Allowed != row[i] {
				t.Errorf("%s in %s: allowed=%v, want %v", a, p, v.Allowed, row[i])
			}
			if !v.Allowed && v.Reason == "" {
				t.Errorf("%s in %s: refused without a reason", a, p)
			}
			if v.Allowed && v.Reason != "" {
				t.Errorf("%s in %s: allowed but carries reason %q", a, p, v.Reason)
			}
		}
	}
}

func TestParkRefusalSaysResiliencyMode(t *testing.T) {
	for _, p := range []Phase{PhaseFailover, PhaseFailback} {
		if got := PhaseAllows(p, ActionPark).Reason; got != "Park is unavailable in resiliency mode" {
			t.Errorf("park in %s: reason %q", p, got)
		}
	}
}

func TestUnknownPhaseAndActionAreRefused(t *testing.T) {
	if PhaseAllows("sideways", ActionHold).Allowed {
		t.Error("an unknown phase allowed hold")
	}
	if PhaseAllows(PhaseNormal, "teleport").Allowed {
		t.Error("an unknown action was allowed")
	}
	if CallAllows(CallActive, "teleport").Allowed {
		t.Error("an unknown action was allowed for a call")
	}
}

func TestCallAllowsEveryCell(t *testing.T) {
	states := []CallState{CallNone, CallDialing, CallRinging, CallActive, CallHeld, CallEnded}
	// columns in states order
	table := map[Action][6]bool{
		ActionCall:     {true, true, true, true, true, true},
		ActionRetrieve: {true, true, true, true, true, true},
		ActionAnswer:   {false, false, true, false, false, false},
		ActionDecline:  {false, false, true, false, false, false},
		ActionHangup:   {false, true, true, true, true, false},
		ActionHold:     {false, false, false, true, false, false},
		ActionResume:   {false, false, false, false, true, false},
		ActionTransfer: {false, false, false, true, true, false},
		ActionPark:     {false, false, false, true, true, false},
		ActionMute:     {false, true, false, true, true, false},
	}
	for a, row := range table {
		for i, s := range states {
			v := CallAllows(s, a)
			if v.Allowed != row[i] {
				t.Errorf("%s with call %q: allowed=%v, want %v", a, s, v.Allowed, row[i])
			}
			if !v.Allowed && v.Reason == "" {
				t.Errorf("%s with call %q: refused without a reason", a, s)
			}
		}
	}
}

func TestAllowsGivesThePhaseReasonFirst(t *testing.T) {
	// No call and resiliency mode: the user needs to hear about resiliency mode.
	if got := Allows(PhaseFailover, CallNone, ActionPark).Reason; got != ReasonParkResiliency {
		t.Errorf("reason %q, want the phase reason", got)
	}
	if got := Allows(PhaseNormal, CallNone, ActionPark).Reason; got != reasonNoCall {
		t.Errorf("reason %q, want the no-call reason", got)
	}
	if !Allows(PhaseFailedOver, CallHeld, ActionPark).Allowed {
		t.Error("a held call cannot be parked after failover completed")
	}
}

func TestCapabilitiesForCoversEveryAction(t *testing.T) {
	for _, p := range Phases {
		c := CapabilitiesFor(p, CallActive)
		for _, a := range Actions {
			got, ok := c[a]
			if !ok {
				t.Fatalf("%s: no verdict for %s", p, a)
			}
			if got != Allows(p, CallActive, a) {
				t.Errorf("%s/%s: %+v differs from Allows", p, a, got)
			}
		}
	}
}

func TestPhaseDescriptions(t *testing.T) {
	for _, p := range Phases {
		if p.Describe() == "" {
			t.Errorf("%s has no description", p)
		}
		if p.Resiliency() != (p == PhaseFailover || p == PhaseFailback) {
			t.Errorf("%s: resiliency=%v", p, p.Resiliency())
		}
	}
	if PhaseFailover.Describe() != "Resiliency mode — park unavailable" {
		t.Errorf("failover text %q", PhaseFailover.Describe())
	}
}
