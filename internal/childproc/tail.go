package childproc

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// tailLines is how much of a log a failed test shows.
const tailLines = 60

// Tail is the end of a log file headed by what it is, for a failed test's
// output.
func Tail(what, file string) string {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Sprintf("--- %s: %v\n", what, err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 2*tailLines {
			lines = append(lines[:0], lines[len(lines)-tailLines:]...)
		}
	}
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return fmt.Sprintf("--- last %d lines of %s (%s):\n%s\n", len(lines), what, file, strings.Join(lines, "\n"))
}
