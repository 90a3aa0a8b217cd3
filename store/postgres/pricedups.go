package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/abacus-billing/abacus/store"
)

// settlePriceCopies removes the copies of price versions that imports
// which raced stored before store.UniquePriceVersions, or refuses to
// migrate, changing nothing, if they cannot be settled (see
// store.SettleCopies): otherwise that migration's unique index fails,
// with the migrations before it applied and this database refused by the
// abacus that made it. It runs under the migration lock, at version have.
func settlePriceCopies(ctx context.Context, conn *pgx.Conn, have int) error {
	if have < 2 || have >= store.UniquePriceVersions { // 0002 made the price book
		return nil
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, store.PriceCopiesQuery)
		if err != nil {
			return err
		}
		var copies []store.PriceCopy
		for rows.Next() {
			var id, unit int64
			var skuType, skuKind int32
			var validFrom time.Time
			var resource, unitType, currency, model, unitPrice, params, description string
			var named bool
			if err := rows.Scan(&id, &skuType, &skuKind, &resource, &unitType, &currency, &validFrom, &unit, &model, &unitPrice, &params, &description, &named); err != nil {
				rows.Close()
				return err
			}
			copies = append(copies, store.NewPriceCopy(id, int64(skuType), int64(skuKind), resource, unitType, currency, validFrom.UTC().Format(time.RFC3339Nano),
				unit, model, unitPrice, params, description, named))
		}
		if err := rows.Err(); err != nil || len(copies) == 0 {
			return err
		}
		remove, err := store.SettleCopies(copies)
		if err != nil {
			return fmt.Errorf("postgres: before migration %04d: %w", store.UniquePriceVersions, err)
		}
		_, err = tx.Exec(ctx, `DELETE FROM prices WHERE id = ANY($1)`, remove)
		return err
	})
}
