package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/abacus-billing/abacus/store"
)

// settlePriceCopies removes the copies of price versions that imports
// which raced stored before store.UniquePriceVersions, or refuses to
// migrate, changing nothing, if they cannot be settled (see
// store.SettleCopies): otherwise that migration's unique index fails,
// with the migrations before it applied and this database refused by the
// abacus that made it.
func (s *Store) settlePriceCopies(ctx context.Context) error {
	tx, err := s.begin(ctx) // BEGIN IMMEDIATE: one migrator at a time
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	if have < 2 || have >= store.UniquePriceVersions { // 0002 made the price book
		return nil
	}
	copies, err := priceCopies(ctx, tx)
	if err != nil || len(copies) == 0 {
		return err
	}
	remove, err := store.SettleCopies(copies)
	if err != nil {
		return fmt.Errorf("sqlite: before migration %04d: %w", store.UniquePriceVersions, err)
	}
	for _, id := range remove {
		if _, err := tx.ExecContext(ctx, `DELETE FROM prices WHERE id = ?`, id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// priceCopies reads store.PriceCopiesQuery.
func priceCopies(ctx context.Context, tx *sql.Tx) ([]store.PriceCopy, error) {
	rows, err := tx.QueryContext(ctx, store.PriceCopiesQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var copies []store.PriceCopy
	for rows.Next() {
		var id, skuType, skuKind, unit, validFrom int64
		var resource, unitType, currency, model, unitPrice, params, description string
		var named bool
		if err := rows.Scan(&id, &skuType, &skuKind, &resource, &unitType, &currency, &validFrom, &unit, &model, &unitPrice, &params, &description, &named); err != nil {
			return nil, err
		}
		copies = append(copies, store.NewPriceCopy(id, skuType, skuKind, resource, unitType, currency, fromMicros(validFrom).Format(time.RFC3339Nano),
			unit, model, unitPrice, params, description, named))
	}
	return copies, rows.Err()
}
