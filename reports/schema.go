package reports

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// BenchSchema is the JSON Schema (draft 2020-12) of bench.Report, the
// document `harness bench` writes. It is the contract for anything else that
// reads the file (dashboards, the nightly trend job).
//
//go:embed schema/bench.schema.json
var BenchSchema []byte

var englishPrinter = message.NewPrinter(language.English)

const schemaBase = "https://github.com/gauntlet-kv/gauntlet/reports/schema/"

// MutantsSchema is the JSON Schema of mutants.Report, the document
// `harness mutants` writes.
//
//go:embed schema/mutants.schema.json
var MutantsSchema []byte

// compileSchema compiles an embedded schema once.
func compileSchema(name string, doc []byte) func() (*jsonschema.Schema, error) {
	return sync.OnceValues(func() (*jsonschema.Schema, error) {
		d, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
		if err != nil {
			return nil, err
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat() // "started" must be an RFC 3339 time, not just a string
		if err := c.AddResource(schemaBase+name, d); err != nil {
			return nil, err
		}
		return c.Compile(schemaBase + name)
	})
}

// CompareSchemaJSON is the JSON Schema of Comparison, the document
// `harness compare --json` writes.
//
//go:embed schema/compare.schema.json
var CompareSchemaJSON []byte

// GateSchemaJSON is the JSON Schema of Gate, the document `harness gate`
// writes.
//
//go:embed schema/gate.schema.json
var GateSchemaJSON []byte

// CheckSchemaJSON is the JSON Schema of checkers.Result, the document
// `harness check` writes for each run.
//
//go:embed schema/check.schema.json
var CheckSchemaJSON []byte

var (
	checkSchema   = compileSchema("check.schema.json", CheckSchemaJSON)
	gateSchema    = compileSchema("gate.schema.json", GateSchemaJSON)
	benchSchema   = compileSchema("bench.schema.json", BenchSchema)
	mutantsSchema = compileSchema("mutants.schema.json", MutantsSchema)
	compareSchema = compileSchema("compare.schema.json", CompareSchemaJSON)
)

// ValidateBenchJSON checks that b is a bench report matching BenchSchema.
// The error lists every problem found, each with the JSON pointer of the
// value at fault ("/runs/0/mode: value must be one of ...").
func ValidateBenchJSON(b []byte) error {
	return validate(b, benchSchema, "bench report", "bench.schema.json")
}

// ValidateMutantsJSON checks that b is a mutants report matching
// MutantsSchema, as ValidateBenchJSON does for bench reports.
func ValidateMutantsJSON(b []byte) error {
	return validate(b, mutantsSchema, "mutants report", "mutants.schema.json")
}

// ValidateCompareJSON checks that b is a comparison matching
// CompareSchemaJSON, as ValidateBenchJSON does for bench reports.
func ValidateCompareJSON(b []byte) error {
	return validate(b, compareSchema, "comparison", "compare.schema.json")
}

// ValidateGateJSON checks that b is a gate verdict matching
// GateSchemaJSON, as ValidateBenchJSON does for bench reports.
func ValidateGateJSON(b []byte) error {
	return validate(b, gateSchema, "gate verdict", "gate.schema.json")
}

// ValidateCheckJSON checks that b is a check Result matching
// CheckSchemaJSON, as ValidateBenchJSON does for bench reports.
func ValidateCheckJSON(b []byte) error {
	return validate(b, checkSchema, "check result", "check.schema.json")
}

func validate(b []byte, schema func() (*jsonschema.Schema, error), what, file string) error {
	sch, err := schema()
	if err != nil {
		// The schema is embedded and tested: failing to compile it is a bug.
		panic(fmt.Sprintf("reports: %s does not compile: %v", file, err))
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: not JSON: %v", what, err)
	}
	err = sch.Validate(inst)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var problems []string
	collectProblems(ve, &problems)
	slices.Sort(problems)
	problems = slices.Compact(problems)
	return fmt.Errorf("%s does not match %s: %s", what, file, strings.Join(problems, "; "))
}

// collectProblems flattens a validation error tree into one line per leaf:
// the library's own text nests "oneOf"/"$ref" wrappers that say nothing the
// leaves don't.
func collectProblems(e *jsonschema.ValidationError, out *[]string) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collectProblems(c, out)
		}
		return
	}
	if req, ok := e.ErrorKind.(*kind.Required); ok {
		// Name the missing field's own path, not its parent's.
		for _, m := range req.Missing {
			*out = append(*out, pointer(append(slices.Clip(e.InstanceLocation), m))+": required field missing")
		}
		return
	}
	*out = append(*out, pointer(e.InstanceLocation)+": "+e.ErrorKind.LocalizedString(englishPrinter))

}

// pointer formats a JSON pointer (RFC 6901).
func pointer(tokens []string) string {
	if len(tokens) == 0 {
		return "/"
	}
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		sb.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return sb.String()
}

// CoverageSchemaJSON is the JSON Schema of coverage.Doc, the document
// `harness coverage` writes.
//
//go:embed schema/coverage.schema.json
var CoverageSchemaJSON []byte

var coverageSchema = compileSchema("coverage.schema.json", CoverageSchemaJSON)

// ValidateCoverageJSON checks that b is a coverage document matching
// CoverageSchemaJSON, as ValidateBenchJSON does for bench reports.
func ValidateCoverageJSON(b []byte) error {
	return validate(b, coverageSchema, "coverage document", "coverage.schema.json")
}
