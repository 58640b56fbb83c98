package childproc

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
)

// FreePorts returns n distinct free TCP ports on 127.0.0.1, chosen below
// the kernel's ephemeral range: a port the kernel may hand out for an
// outgoing connection or a ":0" listener could be taken while a killed
// server is down, and a restart needs its old ports back.
func FreePorts(n int) ([]int, error) {
	lo, hi := 20000, 32000
	if eph := ephemeralLow(); eph > 0 && eph < hi {
		hi = eph
	}
	var ports []int
	var held []net.Listener // until all are chosen, so that they differ
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	if hi-lo < 1000 {
		// An unusual ephemeral range: fall back to ports the kernel picks.
		for range n {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return nil, fmt.Errorf("free port: %w", err)
			}
			held = append(held, l)
			ports = append(ports, l.Addr().(*net.TCPAddr).Port)
		}
		return ports, nil
	}
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, fmt.Errorf("no free ports in %d-%d", lo, hi)
		}
		p := lo + randInt(hi-lo)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		held = append(held, l)
		ports = append(ports, p)
	}
	return ports, nil
}

// ephemeralLow is the first port of Linux's ephemeral range, 0 if unknown.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err)
	}
	return int(v.Int64())
}
