package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
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
	tx, err := s.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one migrator at a time
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

// priceCopies reads the price versions that share their key, currency
// and valid_from with another, in key order, and whether events name them.
func priceCopies(ctx context.Context, tx *sql.Tx) ([]store.PriceCopy, error) {
	const key = `sku_type, sku_kind, resource_id, unit_type, currency, valid_from`
	rows, err := tx.QueryContext(ctx, `SELECT id, `+key+`, unit, model, unit_price, params, description,
		EXISTS (SELECT 1 FROM usage_events e WHERE ',' || e.price_ids || ',' LIKE '%,' || p.id || ',%')
		FROM prices p
		WHERE (`+key+`) IN (SELECT `+key+` FROM prices GROUP BY `+key+` HAVING COUNT(*) > 1)
		ORDER BY `+key+`, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var copies []store.PriceCopy
	for rows.Next() {
		var c store.PriceCopy
		var skuType, skuKind, unit, validFrom int64
		var resource, unitType, currency, model, unitPrice, params, description string
		if err := rows.Scan(&c.ID, &skuType, &skuKind, &resource, &unitType, &currency, &validFrom, &unit, &model, &unitPrice, &params, &description, &c.Named); err != nil {
			return nil, err
		}
		c.Key = store.PriceCopyKey(skuType, skuKind, resource, unitType, currency, fromMicros(validFrom).Format(time.RFC3339Nano))
		c.Content = strings.Join([]string{fmt.Sprint(unit), model, unitPrice, params, description}, "\x00")
		copies = append(copies, c)
	}
	return copies, rows.Err()
}
