package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad serve flags and environment values are usage errors (status 2) that
// name the flag or variable, found before anything is created or started.
func TestServeRefusesBadConfigurationBeforeStarting(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"log level", []string{"--log-level", "loud"}, nil, "--log-level must be debug, info, warn or error"},
		{"durability flag", []string{"--durability", "forever"}, nil, "--durability must be normal or strict"},
		{"durability variable", nil, map[string]string{"AGILEPLUS_DURABILITY": "forever"}, "AGILEPLUS_DURABILITY must be normal or strict"},
		{"empty data", []string{"--data", " "}, nil, "--data must name a directory"},
		{"addr without port", []string{"--addr", "bogus"}, nil, `--addr "bogus" must be host:port`},
		{"addr with a bad port", []string{"--addr", "127.0.0.1:99999"}, nil, "--addr"},
		{"nats listen", []string{"--nats-listen", "nowhere"}, nil, "--nats-listen"},
		{"neo4j url", []string{"--neo4j-url", "http://x"}, nil, "--neo4j-url"},
		{"nats url scheme", []string{"--nats-url", "ftp://x:1"}, nil, "scheme ftp"},
		{"nats url in a list", []string{"--nats-url", "nats://a:4222,http://b:4222"}, nil, `"http://b:4222"`},
		{"stream replicas", []string{"--stream-replicas", "0"}, nil, "--stream-replicas must be between 1 and 5"},
		{"variable that does not parse", nil, map[string]string{"NATS_STREAM_REPLICAS": "abc"}, `NATS_STREAM_REPLICAS="abc" is not an integer (or pass --stream-replicas)`},
		// The flag wins over its variable, even one that does not parse:
		// what stops this start is the log level.
		{"flag over a bad variable", []string{"--stream-replicas", "1", "--log-level", "loud"}, map[string]string{"NATS_STREAM_REPLICAS": "abc"}, "--log-level"},
		{"consumer backoff", []string{"--consumer-backoff", "1s,soon"}, nil, "--consumer-backoff"},
		{"import limit", []string{"--import-limit", "lots"}, nil, `--import-limit (env AGILEPLUS_IMPORT_LIMIT): "lots" is not a positive size`},
		{"import limit zero", []string{"--import-limit", "0"}, nil, "--import-limit"},
		{"import limit variable", nil, map[string]string{"AGILEPLUS_IMPORT_LIMIT": "-1MiB"}, "--import-limit (env AGILEPLUS_IMPORT_LIMIT)"},
		{"log level variable", nil, map[string]string{"LOG_LEVEL": "loud"}, `LOG_LEVEL must be debug, info, warn or error, not "loud"`},
		{"log level flag over its variable", []string{"--log-level", "loud"}, map[string]string{"LOG_LEVEL": "debug"}, `--log-level must be debug, info, warn or error, not "loud"`},
		{"log format", []string{"--log-format", "xml"}, nil, `--log-format must be text or json, not "xml"`},
		{"log format variable", nil, map[string]string{"AGILEPLUS_LOG_FORMAT": "yaml"}, "--log-format must be text or json"},
		{"metrics addr", []string{"--metrics-addr", "9464"}, nil, `--metrics-addr "9464" must be host:port`},
		{"nats monitor", []string{"--nats-monitor", "nowhere"}, nil, `--nats-monitor "nowhere" must be host:port`},
		{"nats monitor of an external server", []string{"--nats-url", "nats://a:4222", "--nats-monitor", "127.0.0.1:8222"}, nil, "--nats-monitor configures the embedded NATS server"},
		{"nats max memory", []string{"--nats-max-memory", "lots"}, nil, `--nats-max-memory (env AGILEPLUS_NATS_MAX_MEMORY): "lots" is not a positive size`},
		{"nats max store variable", nil, map[string]string{"AGILEPLUS_NATS_MAX_STORE": "0"}, "--nats-max-store (env AGILEPLUS_NATS_MAX_STORE)"},
		{"nats max store of an external server", nil, map[string]string{"NATS_URL": "nats://a:4222", "AGILEPLUS_NATS_MAX_STORE": "1GiB"}, "--nats-max-store configures the embedded NATS server"},
		{"trace endpoint", nil, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "tracing: OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"trace protocol", nil, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"trace sampler", nil, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_SAMPLER": "half"}, "OTEL_TRACES_SAMPLER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			args := []string{"agileplus", "serve", "--addr", "127.0.0.1:0", "--data", data}
			args = append(args, tt.args...)
			getenv := func(k string) string { return tt.env[k] }
			err := run(context.Background(), args, getenv, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !errors.Is(err, errUsage) || exitCode(err) != 2 {
				t.Errorf("exit code %d for %v, want 2", exitCode(err), err)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("the data directory was created (%v)", err)
			}
		})
	}
}

// A port in use stops the start before the store and the bus open.
func TestServePortInUseOpensNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := filepath.Join(t.TempDir(), "data")
	args := []string{"agileplus", "serve", "--addr", ln.Addr().String(), "--data", data}
	err = run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("err = %v, want a listen error", err)
	}
	for _, name := range []string{"agileplus.db", "nats"} {
		if _, err := os.Stat(filepath.Join(data, name)); !os.IsNotExist(err) {
			t.Errorf("%s exists after the failed start (%v)", name, err)
		}
	}
}
