// Package storetest is the conformance suite every abacus.Store must pass.
// The SQLite and PostgreSQL stores run it from their own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t testing.TB) abacus.Store { return testdb.SQLite(t) })
//	}
//
// Each subtest opens a fresh, migrated store, so subtests run in parallel
// and never see each other's rows. The suite drives the store directly, the
// way the ledger engine does, and checks what the store's documented
// contracts promise: what each method returns, in which order, what a
// write changes and what a failed write leaves behind.
package storetest

import (
	"testing"

	"github.com/abacus-billing/abacus"
)

// Run runs the conformance suite against the stores open makes. open must
// return a fresh, migrated store that is closed when t ends.
func Run(t *testing.T, open func(t testing.TB) abacus.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st abacus.Store)
	}{
		{"AccountCreate", testAccountCreate},
		{"AccountCreateFloors", testAccountCreateFloors},
		{"AccountsCreate", testAccountsCreate},
		{"AccountGet", testAccountGet},
		{"Wallets", testWallets},
		{"WalletsMany", testWalletsMany},
		{"SystemWalletsEnsure", testSystemWalletsEnsure},

		{"WriteReadKeys", testReadKeys},
		{"WriteHoldsLock", testHoldsLock},
		{"WriteReadWallets", testReadWallets},
		{"WriteReadReversals", testReadReversals},
		{"WriteReserveIDs", testReserveIDs},
		{"WriteApply", testApply},
		{"WriteApplyMany", testApplyMany},
		{"WriteResolveNotOpen", testResolveNotOpen},
		{"WriteTaken", testTaken},
		{"WriteRollback", testRollback},
		{"WriteRaces", testRaces},
		{"WriteReadBatch", testReadBatch},
		{"WriteMonthPaid", testMonthPaid},
		{"WriteFreedMinutes", testFreedMinutes},
		{"UsageListLimits", testUsageListLimits},
		{"EventsListing", testEventsListing},
		{"EventIDSpellings", testEventIDSpellings},
		{"DeadLetters", testDeadLetters},
		{"DeadLettersPublished", testDeadLettersPublished},
		{"DeadLetterPagesByBytes", testDeadLetterPagesByBytes},
		{"PriceVersionTaken", testPriceVersionTaken},
		{"PriceTooEarly", testPriceTooEarly},
		{"CommitmentEnds", testCommitmentEnds},
		{"PriceRevisionRoundTrip", testPriceRevisionRoundTrip},
		{"PriceCorrectTooEarly", testPriceCorrectTooEarly},
		{"PriceCorrectRevisionTaken", testPriceCorrectRevisionTaken},
		{"PriceTooEarlyRevisions", testPriceTooEarlyRevisions},
		{"PriceBookOneCountedVersionAMonth", testPriceBookOneCountedVersionAMonth},
		{"BillingZone", testBillingZone},
		{"BillingZoneAliases", testBillingZoneAliases},
		{"Reprices", testReprices},

		{"Transactions", testTransactions},
		{"Entries", testEntries},
		{"EntriesPaging", testEntriesPaging},
		{"EntriesDuringWrites", testEntriesDuringWrites},
		{"Hold", testHold},
		{"HoldsDue", testHoldsDue},

		{"APIKeys", testAPIKeys},
		{"APIKeyRevoke", testAPIKeyRevoke},

		{"Audit", testAudit},
		{"AuditSnapshot", testAuditSnapshot},

		{"TimesRoundTrip", testTimesRoundTrip},
		{"AmountsRoundTrip", testAmountsRoundTrip},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}
