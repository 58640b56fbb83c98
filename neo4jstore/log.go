package neo4jstore

import (
	"context"
	"fmt"
	"log/slog"
)

// driverLogger passes the driver's log to a slog.Logger. The driver logs
// as errors what it may well recover from (a connection it drops and
// replaces), so its errors are warnings here, and its chatter is debug.
type driverLogger struct{ l *slog.Logger }

func (d driverLogger) Error(name, id string, err error) {
	d.l.Warn("neo4jstore: driver", "component", name, "id", id, "err", err)
}

func (d driverLogger) Warnf(name, id, msg string, args ...any) {
	d.l.Warn("neo4jstore: driver: "+fmt.Sprintf(msg, args...), "component", name, "id", id)
}

func (d driverLogger) Infof(name, id, msg string, args ...any) {
	d.debug(name, id, msg, args)
}

func (d driverLogger) Debugf(name, id, msg string, args ...any) {
	d.debug(name, id, msg, args)
}

func (d driverLogger) debug(name, id, msg string, args []any) {
	if d.l.Enabled(context.Background(), slog.LevelDebug) {
		d.l.Debug("neo4jstore: driver: "+fmt.Sprintf(msg, args...), "component", name, "id", id)
	}
}
