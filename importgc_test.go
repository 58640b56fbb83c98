package agileplus

import (
	"runtime/debug"
	"testing"
)

// gcPercent reads the collector's setting.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestLowerGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	check := func(step string, want int) {
		t.Helper()
		if got := gcPercent(); got != want {
			t.Errorf("%s: got GC percent %d, want %d", step, got, want)
		}
	}
	t.Run("overlapping imports, first ends first", func(t *testing.T) {
		debug.SetGCPercent(100)
		a := lowerGC(25)
		check("a runs", 25)
		b := lowerGC(25)
		check("a and b run", 25)
		a()
		b()
		check("both ended", 100)
	})
	t.Run("overlapping imports, last ends first", func(t *testing.T) {
		debug.SetGCPercent(100)
		a := lowerGC(25)
		b := lowerGC(25)
		b()
		a()
		check("both ended", 100)
	})
	for _, set := range []int{10, 25, -1} {
		debug.SetGCPercent(set)
		restore := lowerGC(25)
		check("lower already", set)
		restore()
		check("after", set)
	}
}
