package postgres

import (
	"context"
	"hash/fnv"
)

// lockKeys are the advisory locks of one abacus schema. PostgreSQL's
// advisory locks belong to the whole database, so abacus instances in two
// schemas of one database (as the tests run) would otherwise wait for each
// other's price book changes, listings and migrations. The public schema
// keeps the keys of older releases, so that a rolling upgrade there stays
// under one lock.
type lockKeys struct {
	// migration serialises migrators across processes.
	migration int64
	// book is held between rating and changing the price book: usage
	// batches that read the book's version hold it shared until they
	// commit, PriceBookAdd holds it exclusively.
	book int64
	// deadLetters orders the dead letters' inserts before their listing
	// (see DeadLetters).
	deadLetters int64
	// outbox orders the outbox's messages before their listing: batches of
	// every kind write them and commit side by side, so a page read while
	// one with lower ids is in flight would pass its messages for good. A
	// batch takes it shared just before it writes them, with every other
	// lock of its own held, until it commits; the listing takes it
	// exclusively.
	outbox int64
}

var publicLocks = lockKeys{
	migration:   0x61626163, // "abac"
	book:        0x6162616375730001,
	deadLetters: 0x6162616375730002,
	outbox:      0x6162616375730003,
}

// locksOf returns the lock keys of the schema abacus's tables are in (the
// first of the search path that exists; none: the public keys, and the
// migration then fails for want of a schema).
func locksOf(schema string) lockKeys {
	if schema == "public" || schema == "" {
		return publicLocks
	}
	h := fnv.New64a()
	h.Write([]byte(schema))
	salt := int64(h.Sum64())
	k := publicLocks
	return lockKeys{migration: k.migration ^ salt, book: k.book ^ salt, deadLetters: k.deadLetters ^ salt, outbox: k.outbox ^ salt}
}

func (s *Store) loadLocks(ctx context.Context) error {
	var schema *string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if schema != nil {
		s.locks = locksOf(*schema)
	} else {
		s.locks = publicLocks
	}
	return nil
}
