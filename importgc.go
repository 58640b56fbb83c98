package agileplus

import "runtime/debug"

// importGCPercent is the garbage collector's heap growth (GOGC) while an
// import runs. An import holds its records and its plan until it commits,
// and builds each chunk's events as garbage meanwhile: with the default
// 100 the heap, and the process's memory with it, would reach twice what
// the import holds. The collector then runs more often, for a little more
// CPU during the import.
const importGCPercent = 25

// lowerGC sets the collector's heap growth to at most percent until the
// returned func is called. The setting is the process's: when imports
// overlap, it goes back as soon as the one that lowered it ends, and an
// import ending never leaves it lower than it found it.
func lowerGC(percent int) (restore func()) {
	old := debug.SetGCPercent(percent)
	if old >= 0 && old <= percent || old < 0 {
		debug.SetGCPercent(old) // already lower, or off
		return func() {}
	}
	return func() {
		if cur := debug.SetGCPercent(old); cur > old {
			debug.SetGCPercent(cur)
		}
	}
}
