package reports

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gauntlet-kv/gauntlet/bench"
	"github.com/gauntlet-kv/gauntlet/checkers"
	"github.com/gauntlet-kv/gauntlet/engine"
)

func TestValidateBenchJSONAcceptsReports(t *testing.T) {
	for name, r := range map[string]*bench.Report{
		"full":    testReport(2),
		"minimal": {Schema: bench.SchemaVersion},   // nil maps and slices marshal as null
		"v1":      {Schema: bench.SchemaVersionV1}, // before misses and resources
		"resources": func() *bench.Report {
			r := testReport(1)
			r.Runs[0].Resources = testResources()
			r.Runs[0].Misses, r.Runs[0].OpError, r.Runs[0].BytesWritten = 3, "put: conflict", 1000
			return r
		}(),
		"partial": func() *bench.Report {
			r := testReport(1)
			r.Partial, r.Reason, r.Probe = true, "interrupted", nil
			r.Runs[0].Error = "pebble: disk full"
			r.Runs[1].Mode, r.Runs[1].RateOpsPerSec = "open-loop", 50000
			r.Runs[1].Stats, r.Runs[1].Options, r.Runs[1].Timeline = nil, nil, nil
			return r
		}(),
	} {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := ValidateBenchJSON(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateBenchJSONRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(doc map[string]any)
		want []string // each must appear in the error
	}{
		{"missing required field", func(d map[string]any) { delete(run(d, 1), "mode") }, []string{"/runs/1/mode: required field missing"}},
		{"missing top-level field", func(d map[string]any) { delete(d, "env") }, []string{"/env: required field missing"}},
		{"wrong type", func(d map[string]any) { run(d, 0)["ops"] = "many" }, []string{"/runs/0/ops:", "integer"}},
		{"negative count", func(d map[string]any) { run(d, 2)["errors"] = -1 }, []string{"/runs/2/errors:", "minimum"}},
		{"negative latency", func(d map[string]any) {
			run(d, 0)["by_op"].(map[string]any)["read"].(map[string]any)["p99_us"] = -0.5
		}, []string{"/runs/0/by_op/read/p99_us:"}},
		{"bad mode", func(d map[string]any) { run(d, 3)["mode"] = "half-open" }, []string{"/runs/3/mode:", "closed-loop", "open-loop"}},
		{"bad schema version", func(d map[string]any) { d["schema"] = "gauntlet.bench/v0" }, []string{"/schema:"}},
		{"bad time", func(d map[string]any) { d["started"] = "yesterday" }, []string{"/started:", "date-time"}},
		{"unknown field", func(d map[string]any) { run(d, 0)["opz"] = 1 }, []string{"/runs/0:", "opz"}},
		{"two problems", func(d map[string]any) {
			run(d, 0)["threads"] = 0
			d["probe"].(map[string]any)["rand_read_iops"] = -3
		}, []string{"/runs/0/threads:", "/probe/rand_read_iops:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(testReport(1))
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			tc.edit(doc)
			if b, err = json.Marshal(doc); err != nil {
				t.Fatal(err)
			}
			err = ValidateBenchJSON(b)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines:\n%v", err)
			}
		})
	}
	if err := ValidateBenchJSON([]byte(`{"schema": `)); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("truncated document: got %v", err)
	}
}

func run(doc map[string]any, i int) map[string]any { return doc["runs"].([]any)[i].(map[string]any) }

// TestSchemaCoversReport keeps the schema in step with the Go types: every
// JSON field of every struct in bench.Report is a property of the matching
// schema definition, required unless it is omitempty, and the schema has no
// property the Go type lacks. A field added to bench without the schema
// fails here, not in a user's nightly job.
func TestSchemaCoversReport(t *testing.T) {
	schemaCovers(t, BenchSchema, reflect.TypeFor[bench.Report](), map[string]reflect.Type{
		"env":           reflect.TypeFor[bench.Env](),
		"probe":         reflect.TypeFor[bench.Probe](),
		"config":        reflect.TypeFor[bench.Config](),
		"run":           reflect.TypeFor[bench.Run](),
		"opSummary":     reflect.TypeFor[bench.OpSummary](),
		"timelinePoint": reflect.TypeFor[bench.TimelinePoint](),
		"stats":         reflect.TypeFor[engine.Stats](),
		"resources":     reflect.TypeFor[bench.Resources](),
	})
}

func TestCheckSchemaCoversResult(t *testing.T) {
	schemaCovers(t, CheckSchemaJSON, reflect.TypeFor[checkers.Result](), map[string]reflect.Type{
		"violation": reflect.TypeFor[checkers.Violation](),
	})
}

// schemaCovers checks that a schema names every field of root and of the
// types of its $defs, requires exactly those without omitempty, and names
// nothing else.
func schemaCovers(t *testing.T, doc []byte, root reflect.Type, defs map[string]reflect.Type) {
	t.Helper()
	var schema struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
		Defs       map[string]struct {
			Required   []string                   `json:"required"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(doc, &schema); err != nil {
		t.Fatal(err)
	}
	check := func(def string, typ reflect.Type, required []string, props map[string]json.RawMessage) {
		var names []string
		for f := range typ.Fields() {
			tag := f.Tag.Get("json")
			if tag == "-" || !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" {
				name = f.Name
			}
			names = append(names, name)
			if _, ok := props[name]; !ok {
				t.Errorf("schema %s lacks property %q (%s.%s)", def, name, typ, f.Name)
			}
			omit := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
			if req := slices.Contains(required, name); req == omit {
				t.Errorf("schema %s: property %q required=%v, but the Go field has omitempty=%v", def, name, req, omit)
			}
		}
		for p := range props {
			if !slices.Contains(names, p) {
				t.Errorf("schema %s has property %q that %s does not", def, p, typ)
			}
		}
	}
	check("(root)", root, schema.Required, schema.Properties)
	for def, typ := range defs {
		d, ok := schema.Defs[def]
		if !ok {
			t.Errorf("schema has no $defs/%s", def)
			continue
		}
		check(def, typ, d.Required, d.Properties)
	}
}
