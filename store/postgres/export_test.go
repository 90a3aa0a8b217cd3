package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/abacus-billing/abacus"
)

// ExplainInWrite returns the plan of statement as the statements of a
// write batch run it: in tx, a transaction of Write.
func ExplainInWrite(ctx context.Context, tx abacus.WriteTx, statement string) ([]string, error) {
	rows, err := tx.(*writeTx).query(ctx, "EXPLAIN "+statement)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
