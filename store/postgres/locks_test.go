package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/store/postgres"
)

// Advisory locks belong to the whole database: instances in two schemas
// of one database must not wait for each other's price book changes.
func TestSchemasDoNotShareLocks(t *testing.T) {
	ctx := context.Background()
	a, b := testdb.Postgres(t), testdb.Postgres(t)
	release, err := postgres.HoldBookLock(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	price := gpuPrice()

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := a.PriceBookAdd(short, price, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a price change in the schema whose lock is held: %v, want it to wait", err)
	}
	other, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.PriceBookAdd(other, price, nil); err != nil {
		t.Fatalf("a price change in another schema: %v", err)
	}
}

// A dry run of a price import changes nothing, so usage batches, which
// hold the book's lock shared while they rate, need not wait for it, nor
// it for them; an import still waits for them.
func TestPriceDryRunSharesTheBookLock(t *testing.T) {
	ctx := context.Background()
	s := testdb.Postgres(t)
	release, err := postgres.HoldBookLockShared(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	price := gpuPrice()

	check, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.PriceBookCheck(check, price, nil); err != nil {
		t.Fatalf("a dry run beside a usage batch: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := s.PriceBookAdd(short, price, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an import beside a usage batch: %v, want it to wait", err)
	}
}

// gpuPrice is a price book change of one version.
func gpuPrice() []abacus.Price {
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return []abacus.Price{{SKUType: 1, SKUKind: 1, ResourceID: "gpu", UnitType: "minute", Currency: "USD",
		Unit: 1, Model: abacus.ModelPerUnit, UnitPrice: decimal.New(1, -2), ValidFrom: day, CreatedAt: day}}
}

// The public schema keeps the keys older releases took, so that processes
// of both during a rolling upgrade still exclude each other.
func TestPublicSchemaKeepsItsLockKeys(t *testing.T) {
	want := [4]int64{0x61626163, 0x6162616375730001, 0x6162616375730002, 0x6162616375730003}
	if got := postgres.LockKeysOf("public"); got != want {
		t.Errorf("public: %x, want %x", got, want)
	}
	other := postgres.LockKeysOf("billing")
	for i := range other {
		if other[i] == want[i] {
			t.Errorf("schema billing shares key %d with public: %x", i, want[i])
		}
	}
}
