package loadgen

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// Result is the machine-readable record of a bench run, written as JSON.
type Result struct {
	Tool      string    `json:"tool"`
	Mode      string    `json:"mode"`
	StartedAt time.Time `json:"started_at"`
	Seconds   float64   `json:"seconds"`
	Machine   Machine   `json:"machine"`
	// Scenarios describes each scenario run (one per size for scaling).
	Scenarios []ScenarioInfo `json:"scenarios"`
	Server    string         `json:"server,omitempty"`
	Clients   int            `json:"clients,omitempty"`
	Phases    []Phase        `json:"phases,omitempty"`
	Index     []IndexRun     `json:"index,omitempty"`
	Scale     []ScaleRun     `json:"scale,omitempty"`
	// Loads are closed-loop loads of what-if checks (bench --mode check),
	// deconflict's and PostGIS's side by side.
	Loads []Load `json:"loads,omitempty"`
	// PostGIS is the comparison with PostgreSQL + PostGIS, if run.
	PostGIS any `json:"postgis,omitempty"`
}

// ScaleRun is a server measured with Operations live operations: how long
// it took to start (load its index from the store) and how fast it took
// further declarations over HTTP.
type ScaleRun struct {
	Operations int `json:"operations"`
	// PreloadSeconds is the time to declare the live operations through
	// the mechanism (no HTTP) into a fresh store.
	PreloadSeconds float64 `json:"preload_seconds"`
	// StartSeconds is the time from starting the server process to its
	// /readyz answering 200 (most of it loading the index); HeapBytes the
	// server's heap then, from its /metrics (garbage not yet collected
	// included).
	StartSeconds float64 `json:"start_seconds"`
	HeapBytes    int64   `json:"heap_bytes"`
	Declare      Phase   `json:"declare"`
	// RestartSeconds is the time a second start takes, after a clean
	// stop: it reads the index snapshot the stop saved.
	RestartSeconds float64 `json:"restart_seconds"`
}

// Machine describes where a run ran.
type Machine struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	CPUs      int    `json:"cpus"`
	Go        string `json:"go"`
	CPU       string `json:"cpu,omitempty"`
	MemoryGiB int    `json:"memory_gib,omitempty"`
}

// ScenarioInfo is what a result says of its scenario: enough to make it
// again.
type ScenarioInfo struct {
	Seed              uint64    `json:"seed"`
	Operations        int       `json:"operations"`
	Queries           int       `json:"queries"`
	Parties           []string  `json:"parties"`
	ConflictRate      float64   `json:"conflict_rate"`
	Start             time.Time `json:"start"`
	SeenConflictRate  float64   `json:"generated_conflict_rate"`
	QueryConflictRate float64   `json:"generated_query_conflict_rate"`
	GenerateSeconds   float64   `json:"generate_seconds"`
}

// Info returns what a result says of s.
func (s *Scenario) Info(took time.Duration) ScenarioInfo {
	return ScenarioInfo{
		Seed: s.Config.Seed, Operations: len(s.Operations), Queries: len(s.Queries),
		Parties: s.Config.Parties, ConflictRate: s.Config.ConflictRate, Start: s.Config.Start,
		SeenConflictRate: s.ConflictRate(), QueryConflictRate: s.QueryConflictRate(),
		GenerateSeconds: took.Seconds(),
	}
}

// ThisMachine describes the machine the program runs on.
func ThisMachine() Machine {
	m := Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = (kb + (1 << 19)) >> 20
		}
	}
	return m
}

// Write writes the result as indented JSON to path.
func (r *Result) Write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}
