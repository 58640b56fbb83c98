package agileplus

import "testing"

func TestEdgeDirection(t *testing.T) {
	for _, tc := range []struct {
		kind   string
		atFrom bool
		want   string
	}{
		{DependsOn, true, DependsOn}, // From waits on To
		{DependsOn, false, Blocks},   // To holds From up
		{RelatesTo, true, RelatesTo},
		{RelatesTo, false, RelatesTo},
	} {
		if got := EdgeDirection(tc.kind, tc.atFrom); got != tc.want {
			t.Errorf("EdgeDirection(%s, atFrom %v) = %s, want %s", tc.kind, tc.atFrom, got, tc.want)
		}
	}
}
