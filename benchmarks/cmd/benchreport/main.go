// Command benchreport writes BENCHMARKS.md from a run of the benchmarks
// module: the benchstat table, the machine, the date, the ratios issue 8
// names (each marked met or missed), what they mean, and the load test's
// section. scripts/bench.sh runs it; it reads files and writes one.
//
//	go run ./cmd/benchreport -raw bench.txt -benchstat table.txt -loadtest load.md -out ../BENCHMARKS.md
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

type options struct {
	raw, benchstat, loadtest, out, command, goVersion string
}

func run(args []string) error {
	var o options
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.StringVar(&o.raw, "raw", "", "raw `go test -bench` output (required)")
	fs.StringVar(&o.benchstat, "benchstat", "", "benchstat's table of the same output")
	fs.StringVar(&o.loadtest, "loadtest", "", "the load test's markdown section")
	fs.StringVar(&o.out, "out", "", "where to write the report (default: stdout)")
	fs.StringVar(&o.command, "command", "", "the benchmark command line, for the report")
	fs.StringVar(&o.goVersion, "go", runtime.Version(), "the Go version the benchmarks ran with")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.raw == "" {
		return errors.New("-raw is required")
	}
	f, err := os.Open(o.raw)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := parse(f)
	if err != nil {
		return err
	}
	readOptional := func(path string) (string, error) {
		if path == "" {
			return "", nil
		}
		data, err := os.ReadFile(path)
		return string(data), err
	}
	table, err := readOptional(o.benchstat)
	if err != nil {
		return err
	}
	load, err := readOptional(o.loadtest)
	if err != nil {
		return err
	}
	doc := render(o, res, table, load, machine(o.goVersion), time.Now().UTC())
	if o.out == "" {
		_, err = io.WriteString(os.Stdout, doc)
		return err
	}
	return os.WriteFile(o.out, []byte(doc), 0o644)
}

// stats are the medians of one benchmark's runs.
type stats struct {
	ns, bytes, allocs float64
	runs              int
}

// results maps "Name/serial" (no "Benchmark", no -N suffix) to its medians.
type results map[string]stats

var lineRE = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+([\d.]+) B/op)?(?:\s+([\d.]+) allocs/op)?`)

// parse reads go test -bench output (several runs of a benchmark allowed)
// and keeps each benchmark's medians.
func parse(r io.Reader) (results, error) {
	samples := map[string][3][]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := lineRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		s := samples[m[1]]
		for i, field := range m[2:] {
			if field == "" {
				continue
			}
			v, err := strconv.ParseFloat(field, 64)
			if err != nil {
				return nil, err
			}
			s[i] = append(s[i], v)
		}
		samples[m[1]] = s
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(samples) == 0 {
		return nil, errors.New("no benchmark results in the raw output")
	}
	res := results{}
	for name, s := range samples {
		res[name] = stats{ns: median(s[0]), bytes: median(s[1]), allocs: median(s[2]), runs: len(s[0])}
	}
	return res, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = append([]float64(nil), v...)
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// machineInfo describes where the benchmarks ran.
type machineInfo struct {
	cpus                                           int
	model, memory, goVersion, kernel, goos, goarch string
}

func machine(goVersion string) machineInfo {
	m := machineInfo{cpus: runtime.NumCPU(), goVersion: goVersion, goos: runtime.GOOS, goarch: runtime.GOARCH,
		model: "unknown", memory: "unknown", kernel: "unknown"}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				m.model = strings.TrimSpace(value)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				fields := strings.Fields(rest)
				if len(fields) == 0 {
					continue
				}
				if kib, err := strconv.ParseFloat(fields[0], 64); err == nil {
					m.memory = fmt.Sprintf("%.1f GiB", kib/1024/1024)
				}
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(data))
	}
	return m
}
