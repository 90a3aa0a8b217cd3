package metering_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
	"github.com/abacus-billing/abacus/internal/testdb"
	"github.com/abacus-billing/abacus/ledger"
	"github.com/abacus-billing/abacus/metering"
	"github.com/abacus-billing/abacus/metering/natstest"
)

// BenchmarkConsumerDrain measures how fast the JetStream consumer charges
// a backlog: b.N CSGHub events over 1,000 accounts and 20 per-minute SKUs
// wait in the stream, one per message, and the consumer takes them all,
// with messages fetched per pull as the sub-benchmark says, on each store
// with the workers `abacus serve` gives it (1 on SQLite, 4 on PostgreSQL).
// Run with a backlog of a realistic size:
//
//	go test ./metering -run '^$' -bench ConsumerDrain -benchtime 150000x
func BenchmarkConsumerDrain(b *testing.B) {
	stores := []struct {
		name    string
		open    func(testing.TB) abacus.Store
		workers int
	}{
		{"sqlite", func(t testing.TB) abacus.Store { return testdb.SQLite(t) }, 1},
		{"postgres", func(t testing.TB) abacus.Store { return testdb.Postgres(t) }, 4},
	}
	for _, s := range stores {
		for _, pull := range []int{1000, metering.DefaultBatch} {
			b.Run(s.name+"/pull="+strconv.Itoa(pull), func(b *testing.B) { drain(b, s.open(b), s.workers, pull) })
		}
	}
}

func drain(b *testing.B, st abacus.Store, workers, pull int) {
	ctx := context.Background()
	srv := natstest.Start(b)
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var ps []abacus.Price
	for i := range 20 {
		ps = append(ps, abacus.Price{SKUType: 1, SKUKind: 1, ResourceID: fmt.Sprintf("sku-%d", i), UnitType: "minute", Currency: "USD",
			Unit: 1, Model: abacus.ModelPerUnit, UnitPrice: decimal.RequireFromString("0.01"), ValidFrom: from, CreatedAt: from})
	}
	if err := st.PriceBookAdd(ctx, ps, nil); err != nil {
		b.Fatal(err)
	}
	e := ledger.New(st, ledger.Config{Workers: workers})
	defer e.Close()
	_, js := natstest.Connect(b, srv.ClientURL())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: metering.DefaultStream, Subjects: []string{metering.DefaultSubject}}); err != nil {
		b.Fatal(err)
	}
	for i := range b.N {
		body := fmt.Sprintf(`{"uuid":"%08x-0000-4000-8000-%012d","user_uuid":"be000000-0000-4000-8000-%012d","value":%d,"value_type":0,`+
			`"scene":11,"resource_id":"sku-%d","customer_id":"space-%d","created_at":"2026-11-01T0%d:%02d:00Z"}`,
			i*7919, i, i*7919%1000+1, 1+i%60, i%20, i%97, i/60%10, i%60)
		if _, err := js.PublishAsync(metering.DefaultSubject, []byte(body)); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	c := metering.NewConsumer(metering.ConsumerConfig{URL: srv.ClientURL(), Batch: pull, Logger: slog.New(slog.DiscardHandler)}, &metering.Pipeline{Engine: e}, st)
	b.ResetTimer()
	if err := c.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer c.Stop()
	for {
		s := c.Stats()
		if s.Accepted+s.Duplicate+s.Rejected >= int64(b.N) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
