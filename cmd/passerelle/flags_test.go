package main

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestServeFlagsDocumented: every flag of serve has its row in the README's
// configuration table, with the environment variable its usage names, and
// every row of that table is a flag of serve — the table cannot drift from
// the code either way.
func TestServeFlagsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "## Configuration (`passerelle serve`)")
	if start < 0 {
		t.Fatal("the README has no configuration section")
	}
	section := text[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	row := regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)` \\| `?([A-Z_]*)`? \\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		documented[m[1]] = m[2]
	}
	fs, _ := serveCommand()
	envOf := regexp.MustCompile(`\(env ([A-Z_]+)\)`)
	declared := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		declared[f.Name] = true
		env, ok := documented[f.Name]
		if !ok {
			t.Errorf("serve --%s has no row in the README's configuration table", f.Name)
			return
		}
		if m := envOf.FindStringSubmatch(f.Usage); m != nil && m[1] != env {
			t.Errorf("serve --%s: the usage names %s, the README %q", f.Name, m[1], env)
		}
	})
	for name := range documented {
		if !declared[name] {
			t.Errorf("the README documents --%s, which serve does not have", name)
		}
	}
	if len(documented) < 20 {
		t.Fatalf("read %d rows from the README's table: the pattern no longer matches it", len(documented))
	}
}
