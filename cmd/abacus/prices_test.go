package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPricesListShowsEveryModel: each price of the example file is listed
// with what defines it under its model, its discounts and its licence,
// never the zero UnitPrice of a model that does not use one.
func TestPricesListShowsEveryModel(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	if out, err := runCLI(t, "prices", "import", "--db", dsn, "../../rating/testdata/example.yaml"); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	out, err := runCLI(t, "prices", "list", "--db", dsn, "--all")
	if err != nil {
		t.Fatalf("list: %v\n%s", err, out)
	}
	rows := map[string]string{} // by resource and model
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		rows[f[3]+" "+f[6]] += line
	}
	for key, want := range map[string][]string{
		"csghub://serverless/Qwen/Qwen2.5-7B-Instruct graduated": {" 0-1000000: 0.5, 1000000-10000000: 0.4, 10000000+: 0.3 "},
		"77 volume":         {" 0-6000: 0.9, 6000+: 0.8 + 10 flat ", " 3+ months: 5% off, 12+ months: 20% off "},
		"multisync package": {" 5 per package of 100 "},
		"cpu burst": {" level 0: 0.01, level 1: 0.014, level 2: 0.017, level 3: 0.0199, level 4: 0.021 ",
			" 3+ months: 3% off, 6+ months: 10% off, 12+ months: 25% off, 24+ months: 35% off, 36+ months: 45% off "},
		"msft_p73_04837_core per_unit": {" 0.015 ", " instance: msft_p73_04837_core, metric smp, not burstable"},
		"msft_rds_user per_unit":       {" 4.2 ", " stub: msft_rds_user, metric users, burstable"},
		"12 per_unit":                  {" 0.05 ", " 0.04 "},
	} {
		row, ok := rows[key]
		if !ok {
			t.Fatalf("no row for %s in\n%s", key, out)
		}
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("%s: missing %q in\n%s", key, w, row)
			}
		}
	}
}

// TestPricesImportNamesLineOfStoredConflict: a price whose key, currency
// and valid_from are already stored with another price is named by file
// and line, and nothing of the file is imported.
func TestPricesImportNamesLineOfStoredConflict(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	later := strings.Replace(priceFile, "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z", 1)
	edited := strings.Replace(priceFile, `"0.25"`, `"0.30"`, 1)
	path := writeFile(t, "again.yaml", later+strings.TrimPrefix(edited, "prices:\n"))
	out, err := runCLI(t, "prices", "import", "--db", dsn, path)
	line := strings.Count(later, "\n") + 1 // the second price's first line
	want := fmt.Sprintf("%s:%d: prices[1]: has the same key, currency and valid_from as stored price 1 but differs from it", path, line)
	if err == nil || !strings.Contains(out, want) {
		t.Fatalf("%v\n%s\nwant %s", err, out, want)
	}
	out, err = runCLI(t, "prices", "list", "--db", dsn, "--all")
	if err != nil || strings.Count(out, "\n") != 2 {
		t.Fatalf("the file's other price was imported: %v\n%s", err, out)
	}
}

// TestPricesImportAgain: the price file is the book's source, imported
// again after every change: what is stored already is left out, and only
// the versions added to the file are imported.
func TestPricesImportAgain(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "a.db")
	importPrices(t, dsn)
	path := writeFile(t, "same.yaml", priceFile)
	out, err := runCLI(t, "prices", "import", "--db", dsn, path)
	if err != nil || !strings.Contains(out, "nothing new in "+path+": its 1 prices and 0 commitments were stored already") {
		t.Fatalf("the same file again: %v\n%s", err, out)
	}
	later := strings.Replace(strings.Replace(priceFile, "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z", 1), `"0.25"`, `"0.20"`, 1)
	path = writeFile(t, "added.yaml", priceFile+strings.TrimPrefix(later, "prices:\n"))
	out, err = runCLI(t, "prices", "import", "--db", dsn, path)
	if err != nil || !strings.Contains(out, "imported 1 prices and 0 commitments from "+path+"; 1 prices and 0 commitments were stored already") {
		t.Fatalf("the file with a version added: %v\n%s", err, out)
	}
	out, err = runCLI(t, "prices", "list", "--db", dsn, "--all")
	if err != nil || strings.Count(out, "\n") != 3 || !strings.Contains(out, " 0.2 ") || !strings.Contains(out, " 0.25 ") {
		t.Fatalf("want the two versions, each once: %v\n%s", err, out)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
