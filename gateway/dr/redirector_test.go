package dr

import "context"

// fakeRedirector is a Redirector the test steers: every call is reported on calls and
// returns what the test sends on results (or ctx's error when it is cancelled first).
type fakeRedirector struct {
	calls   chan redirectCall
	results chan error
}

type redirectCall struct {
	to  string
	ctx context.Context
}

func newFakeRedirector() *fakeRedirector {
	return &fakeRedirector{calls: make(chan redirectCall, 16), results: make(chan error)}
}

func (f *fakeRedirector) Redirect(ctx context.Context, to string) error {
	f.calls <- redirectCall{to: to, ctx: ctx}
	select {
	case err := <-f.results:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
