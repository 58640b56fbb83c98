package crosstest

import (
	"context"
	"errors"
	"math"
	"net"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/agileplus/agileplus"
	"github.com/agileplus/agileplus/httpapi"
)

// The client against a real server: only a failed connection is "cannot
// reach the server"; a request that cannot be made says what it is.

func TestClientRequestErrorsAreNotUnreachable(t *testing.T) {
	srv, _ := newTestAPI(t)
	c := httpapi.NewClient(srv.URL, httpapi.WithActor("tester"))
	ctx := context.Background()

	t.Run("unencodable request", func(t *testing.T) {
		nan := math.NaN()
		_, err := c.UpdateWP(ctx, "X-1", agileplus.WPUpdate{Estimate: &nan}, 0)
		if err == nil || agileplus.ErrorCode(err) == agileplus.EUNAVAILABLE || !strings.Contains(err.Error(), "encode the request") {
			t.Errorf("UpdateWP(NaN) = %v, want an encoding error", err)
		}
	})
	t.Run("unreadable import body", func(t *testing.T) {
		_, err := c.BulkImport(ctx, iotest.ErrReader(errors.New("disk on fire")), agileplus.ImportOptions{})
		if err == nil || agileplus.ErrorCode(err) == agileplus.EUNAVAILABLE || !strings.Contains(err.Error(), "reading the request body: disk on fire") {
			t.Errorf("BulkImport(failing reader) = %v, want a read error", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.Projects(ctx, agileplus.Page{})
		if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "cannot reach") {
			t.Errorf("Projects(cancelled ctx) = %v, want context.Canceled", err)
		}
	})
	t.Run("server down", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + l.Addr().String()
		l.Close()
		_, err = httpapi.NewClient(url).Projects(ctx, agileplus.Page{})
		if agileplus.ErrorCode(err) != agileplus.EUNAVAILABLE || !strings.Contains(err.Error(), "cannot reach the server at "+url) {
			t.Errorf("Projects(nothing listening) = %v, want EUNAVAILABLE cannot reach", err)
		}
	})
	t.Run("the real server passes the answer checks", func(t *testing.T) {
		p, err := c.CreateProject(ctx, agileplus.ProjectCreate{Key: "OK", Name: "Fine"})
		if err != nil || p.ID == "" {
			t.Fatalf("CreateProject = %+v, %v", p, err)
		}
		if _, err := c.Project(ctx, "OK"); err != nil {
			t.Errorf("Project = %v", err)
		}
	})
}
