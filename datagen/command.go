package datagen

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"passerelle/store"
)

// CommandConfig is what a command line gives to Command.
type CommandConfig struct {
	Store    store.Config
	Preset   string // idf, france
	Seed     uint64
	Requests int       // 0: the preset's
	Writers  int       // 0: 1
	End      time.Time // zero: today, or the end of the run being resumed
	// SQLiteCacheMB is the SQLite page cache per connection while
	// generating, when Store names no explicit DSN (0: the driver's 2 MiB).
	SQLiteCacheMB int
	Out           io.Writer // progress bar and summary (default os.Stderr)
}

// Command migrates the database, generates the data set with a progress
// bar and its rates, and prints a summary: the body of a "generate"
// subcommand.
func Command(ctx context.Context, c CommandConfig) error {
	out := c.Out
	if out == nil {
		out = os.Stderr
	}
	cfg, err := Presets(c.Preset)
	if err != nil {
		return err
	}
	cfg.Seed, cfg.Writers, cfg.End = c.Seed, c.Writers, c.End
	if c.Requests > 0 {
		cfg.Requests = c.Requests
	}
	st := c.Store
	if st.DatabaseURL == "" && c.SQLiteCacheMB > 0 {
		// The server's DSN, with a page cache that holds the hot index pages:
		// random uuid keys touch pages all over each index.
		dir := st.DataDir
		if dir == "" {
			dir = "data"
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		st.DatabaseURL = store.SQLiteDSNCache(filepath.Join(dir, "passerelle.db"), c.SQLiteCacheMB)
	}
	db, err := store.Open(ctx, st)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	var rows atomic.Int64
	var rep Report
	cfg.Rows, cfg.Report = &rows, &rep
	fmt.Fprintf(out, "generating preset %s (seed %d) into %s\n", c.Preset, cfg.Seed, db.Where)
	bar := NewProgressBar(out, &rows)
	err = Generate(ctx, db.Client, cfg, bar.Update)
	bar.Finish()
	if err != nil {
		return err
	}
	el := rep.Duration
	fmt.Fprintf(out, "period %s → %s; %d generated structures, %d units, %d USP units in all, %d users, %d habilitations\n",
		rep.Start.Format(time.DateOnly), rep.End.Format(time.DateOnly), rep.Structures, rep.Units, rep.USPUnits, rep.Users, rep.Habilitations)
	fmt.Fprintf(out, "%d requests (%d already present), %d events, %d rows written in %s: %.0f rows/s, %.0f requests/s\n",
		rep.Requests, rep.Skipped, rep.Events, rep.Rows, el.Round(time.Millisecond),
		float64(rep.Rows)/el.Seconds(), float64(rep.Requests-rep.Skipped)/el.Seconds())
	fmt.Fprintln(out, distribution("requests by status", rep.ByStatus))
	fmt.Fprintln(out, distribution("dispatches by status", rep.ByDispatchStatus))
	return nil
}

func distribution[K ~string](title string, m map[K]int) string {
	total := 0
	keys := make([]K, 0, len(m))
	for k, n := range m {
		total += n
		keys = append(keys, k)
	}
	if total == 0 {
		return title + ": none generated in this run"
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || (m[keys[i]] == m[keys[j]] && keys[i] < keys[j]) })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.1f%%", k, 100*float64(m[k])/float64(total))
	}
	return title + ": " + strings.Join(parts, ", ")
}

// ProgressBar draws a one-line progress bar with rates, at most four times
// a second. Update is a progress callback for Generate.
type ProgressBar struct {
	out   io.Writer
	rows  *atomic.Int64
	began time.Time
	last  time.Time
	done  int
	total int
}

// NewProgressBar returns a bar writing to out; rows (optional) gives rows/s.
func NewProgressBar(out io.Writer, rows *atomic.Int64) *ProgressBar {
	return &ProgressBar{out: out, rows: rows, began: time.Now()}
}

// Update records progress and redraws the bar now and then.
func (p *ProgressBar) Update(done, total int) {
	p.done, p.total = done, total
	if time.Since(p.last) < 250*time.Millisecond && done < total {
		return
	}
	p.last = time.Now()
	p.draw()
}

func (p *ProgressBar) draw() {
	if p.total == 0 {
		return
	}
	el := time.Since(p.began).Seconds()
	frac := float64(p.done) / float64(p.total)
	const width = 30
	n := int(frac * width)
	eta := "?"
	if frac > 0 {
		eta = time.Duration(el / frac * (1 - frac) * float64(time.Second)).Round(time.Second).String()
	}
	rows := ""
	if p.rows != nil {
		rows = fmt.Sprintf("  %.0f rows/s", float64(p.rows.Load())/el)
	}
	fmt.Fprintf(p.out, "\r[%s%s] %5.1f%% %d/%d requests  %.0f req/s%s  ETA %s   ",
		strings.Repeat("#", n), strings.Repeat(".", width-n), 100*frac, p.done, p.total, float64(p.done)/el, rows, eta)
}

// Finish draws the last state and ends the line.
func (p *ProgressBar) Finish() {
	p.draw()
	fmt.Fprintln(p.out)
}
