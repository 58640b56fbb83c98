package neo4jtest

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// write creates one (:Item {name}) node.
func write(ctx context.Context, t *testing.T, d neo4j.DriverWithContext, name string) {
	t.Helper()
	_, err := neo4j.ExecuteQuery(ctx, d, "CREATE (:Item {name: $name})", map[string]any{"name": name},
		neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(Database))
	if err != nil {
		t.Fatalf("write %q: %v", name, err)
	}
}

// names reads the names of every Item, sorted.
func names(ctx context.Context, t *testing.T, d neo4j.DriverWithContext) []string {
	t.Helper()
	res, err := neo4j.ExecuteQuery(ctx, d, "MATCH (i:Item) RETURN i.name AS name ORDER BY name", nil,
		neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(Database), neo4j.ExecuteQueryWithReadersRouting())
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var got []string
	for _, rec := range res.Records {
		name, _, err := neo4j.GetRecordValue[string](rec, "name")
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got = append(got, name)
	}
	return got
}

func wantNames(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got items %q, want %q", got, want)
	}
}

// TestStart runs a server of the test's own: a Cypher write and read over
// Bolt, with the version this package promises.
func TestStart(t *testing.T) {
	s := Start(t)
	ctx := testContext(t)
	if want := "bolt://127.0.0.1:"; !strings.HasPrefix(s.URL(), want) {
		t.Errorf("got URL %q, want prefix %q", s.URL(), want)
	}
	if got, want := s.Version(), "Neo4j/5.26."; !strings.HasPrefix(got, want) {
		t.Errorf("got version %q, want prefix %q", got, want)
	}
	d := s.Driver()
	write(ctx, t, d, "a")
	write(ctx, t, d, "b")
	wantNames(t, names(ctx, t, d), "a", "b")
}

// TestWrongPassword checks that authentication is on: the right password
// logs in, a wrong one is refused.
func TestWrongPassword(t *testing.T) {
	s := Shared(t)
	ctx := testContext(t)
	if err := s.Driver().VerifyAuthentication(ctx, nil); err != nil {
		t.Fatalf("right password: %v", err)
	}
	d, err := neo4j.NewDriverWithContext(s.URL(), neo4j.BasicAuth(s.User(), s.Password()+"-wrong", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	err = d.VerifyAuthentication(ctx, nil)
	var ne *neo4j.Neo4jError
	if !errors.As(err, &ne) || ne.Code != "Neo.ClientError.Security.Unauthorized" {
		t.Fatalf("wrong password: got error %v, want Neo.ClientError.Security.Unauthorized", err)
	}
}

// TestRestartKeepsData checks that a clean restart keeps the port, the
// password and the data.
func TestRestartKeepsData(t *testing.T) {
	s := Shared(t)
	ctx := testContext(t)
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	d := s.Driver()
	write(ctx, t, d, "before")
	url := s.URL()

	s.Restart()
	if s.URL() != url {
		t.Fatalf("got URL %s after restart, want %s", s.URL(), url)
	}
	wantNames(t, names(ctx, t, d), "before")
	write(ctx, t, d, "after")
	wantNames(t, names(ctx, t, d), "after", "before")
}

// TestKillThenRestart checks that a SIGKILLed server is gone at once, and
// that a restart recovers every committed write.
func TestKillThenRestart(t *testing.T) {
	s := Shared(t)
	ctx := testContext(t)
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	d := s.Driver()
	write(ctx, t, d, "committed")

	s.Kill()
	if s.Running() {
		t.Fatal("server still runs after Kill")
	}
	addr := strings.TrimPrefix(s.URL(), "bolt://")
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Kill", addr)
	}

	s.Restart()
	wantNames(t, names(ctx, t, d), "committed")

	t.Run("Shared starts a stopped server again", func(t *testing.T) {
		Shared(t).Stop()
		again := Shared(t)
		if !again.Running() {
			t.Fatal("Shared returned a server that does not run")
		}
		wantNames(t, names(ctx, t, again.Driver()), "committed")
	})
}

// TestStdinEndStopsServer checks the guard that ties a server's life to
// the test process off Linux: the launcher shuts down cleanly when its
// stdin ends.
func TestStdinEndStopsServer(t *testing.T) {
	s := Shared(t)
	if err := s.p.closeStdin(stopTimeout); err != nil {
		t.Fatal(err)
	}
	if st := s.p.state(); !st.Success() {
		t.Fatalf("launcher exited with %v, want success", st)
	}
	log, err := os.ReadFile(s.LogFile())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(strings.TrimSpace(string(log)), "NEO4J STOPPED") {
		t.Fatalf("log does not end with NEO4J STOPPED:\n%s", s.p.logTail())
	}
}

// TestReset checks that Reset leaves an empty database without user
// constraints or indexes.
func TestReset(t *testing.T) {
	s := Shared(t)
	ctx := testContext(t)
	d := s.Driver()
	for _, q := range []string{
		"CREATE CONSTRAINT item_name IF NOT EXISTS FOR (i:Item) REQUIRE i.name IS UNIQUE",
		"CREATE INDEX `odd ``name``` IF NOT EXISTS FOR (x:Other) ON (x.v)",
		"CREATE (:Item {name: 'x'})-[:REL]->(:Other {v: 1})",
		"UNWIND range(1, 12000) AS i CREATE (:Bulk {i: i})",
	} {
		if _, err := neo4j.ExecuteQuery(ctx, d, q, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(Database)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}

	count := func(q string) int64 {
		t.Helper()
		res, err := neo4j.ExecuteQuery(ctx, d, q, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(Database))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		n, _ := res.Records[0].Values[0].(int64)
		return n
	}
	for q, want := range map[string]int64{
		"MATCH (n) RETURN count(n)":                                      0,
		"SHOW CONSTRAINTS YIELD name RETURN count(name)":                 0,
		"SHOW INDEXES YIELD type WHERE type <> 'LOOKUP' RETURN count(*)": 0,
		"SHOW INDEXES YIELD type WHERE type = 'LOOKUP' RETURN count(*)":  2,
	} {
		if got := count(q); got != want {
			t.Errorf("%s: got %d, want %d", q, got, want)
		}
	}
	// The unique constraint is gone, so a duplicate name is accepted.
	write(ctx, t, d, "x")
	write(ctx, t, d, "x")
}

// TestSourceKey checks that the launcher's cache key is stable, so a second
// test binary reuses the launcher the first one built.
func TestSourceKey(t *testing.T) {
	k1, err := sourceKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := sourceKey()
	if err != nil {
		t.Fatal(err)
	}
	if k1 != k2 || !keyPattern.MatchString(k1) {
		t.Fatalf("got keys %q and %q, want one 16-digit hex key", k1, k2)
	}
}
