package http

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/abacus-billing/abacus"
)

type accountRequest struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Currency  string `json:"currency"`
	Overdraft *struct {
		Limit     *string `json:"limit"`
		Unlimited *bool   `json:"unlimited"`
	} `json:"overdraft"`
	// Absent or null: none. An empty string is refused, as a template
	// that dropped the value would have made an account with no floor
	// room, or no warnings, without a word (QA).
	LowBalance *string `json:"low_balance_threshold"` // warn when the available total falls below this
}

func (s *Server) handleAccountCreate(w http.ResponseWriter, r *http.Request) error {
	var req accountRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := required(req.ID, "id"); err != nil {
		return err
	}
	id, err := abacus.ParseAccountID(req.ID)
	if err != nil {
		return abacus.RenameField(err, "id")
	}
	if err := required(req.Currency, "currency"); err != nil {
		return err
	}
	a := abacus.Account{ID: id, Kind: abacus.AccountKind(req.Kind), Name: req.Name, Currency: abacus.Currency(req.Currency), CreatedAt: s.now().UTC()}
	if _, system := abacus.SystemAccountByID(id); system {
		return abacus.Errorf(abacus.CodeConflict, "id", "%s is a system account's id; give the customer's account an id of its own", id)
	}
	if req.Overdraft != nil {
		if req.Overdraft.Limit == nil && req.Overdraft.Unlimited == nil { // QA: {} had meant a floor of 0
			return abacus.Errorf(abacus.CodeInvalid, "overdraft", `says nothing: give {"limit": "50"} or {"unlimited": true}, or leave overdraft out for no overdraft`)
		}
		a.Overdraft.Unlimited = req.Overdraft.Unlimited != nil && *req.Overdraft.Unlimited
		if req.Overdraft.Limit != nil {
			if a.Overdraft.Limit, err = parseOptionalAmount(*req.Overdraft.Limit, "overdraft.limit"); err != nil {
				return err
			}
		}
	}
	if req.LowBalance != nil {
		low, err := parseOptionalAmount(*req.LowBalance, "low_balance_threshold")
		if err != nil {
			return err
		}
		a.LowBalance = &low
	}
	if err := a.Validate(); err != nil {
		return err
	}
	if err := a.CheckLowBalanceReachable(); err != nil {
		// The same account stored before the rule is answered as it is
		// (regression QA: its replay got 400).
		if stored, gerr := s.store.AccountGet(r.Context(), a.ID); gerr == nil && sameAccount(stored, a) {
			return s.writeAccount(w, r, stored, http.StatusOK)
		}
		return err
	}
	stored, created, err := s.store.AccountCreate(r.Context(), a)
	if err != nil {
		return err
	}
	if diff := accountDiff(stored, a); !created && len(diff) > 0 {
		// Named, as an account an event made (kind user, no name) conflicts
		// with the platform's own create, and "other attributes" said not
		// which (QA).
		return abacus.Errorf(abacus.CodeConflict, "id", "account %s exists already with other attributes (an account is not changed once made): %s", id, strings.Join(diff, "; "))
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return s.writeAccount(w, r, stored, status)
}

// sameAccount tells whether stored is the account a request asks for.
func sameAccount(stored, a abacus.Account) bool { return len(accountDiff(stored, a)) == 0 }

// accountDiff names what of stored differs from the account a request asks
// for, with both values.
func accountDiff(stored, a abacus.Account) []string {
	var diff []string
	differs := func(field, have, want string) {
		if have != want {
			diff = append(diff, fmt.Sprintf("%s is %q, not %q", field, have, want))
		}
	}
	differs("kind", string(stored.Kind), string(a.Kind))
	differs("name", stored.Name, a.Name)
	differs("currency", string(stored.Currency), string(a.Currency))
	differs("overdraft", overdraftText(stored.Overdraft), overdraftText(a.Overdraft))
	differs("low_balance_threshold", thresholdText(stored.LowBalance), thresholdText(a.LowBalance))
	return diff
}

func overdraftText(o abacus.Overdraft) string {
	switch {
	case o.Unlimited:
		return "unlimited"
	case o.Limit.IsZero():
		return "none"
	}
	return "limit " + o.Limit.String()
}

func thresholdText(t *abacus.Amount) string {
	if t == nil {
		return "none"
	}
	return t.String()
}

func (s *Server) writeAccount(w http.ResponseWriter, r *http.Request, a abacus.Account, status int) error {
	ws, err := s.store.Wallets(r.Context(), []abacus.AccountID{a.ID})
	if err != nil {
		return err
	}
	v, err := newAccountView(a, ws)
	if err != nil {
		return err
	}
	return writeJSON(w, status, v)
}

// accountFromPath parses {id} and checks the caller may read it.
func accountFromPath(r *http.Request) (abacus.AccountID, error) {
	id, err := abacus.ResolveAccountRef(r.PathValue("id"))
	if err != nil {
		return "", abacus.RenameField(err, "id")
	}
	return id, mayRead(r, id)
}

func (s *Server) handleAccountGet(w http.ResponseWriter, r *http.Request) error {
	id, err := accountFromPath(r)
	if err != nil {
		return err
	}
	a, err := s.store.AccountGet(r.Context(), id)
	if err != nil {
		return pathNotFound(err)
	}
	return s.writeAccount(w, r, a, http.StatusOK)
}

const (
	defaultPage = 50
	maxPage     = 1000
)

func (s *Server) handleEntries(w http.ResponseWriter, r *http.Request) error {
	id, err := accountFromPath(r)
	if err != nil {
		return err
	}
	q := abacus.EntryQuery{Account: id}
	if q.Limit, err = intParam(r.URL.Query().Get("limit"), "limit", defaultPage, 1, maxPage); err != nil {
		return err
	}
	if v := r.URL.Query().Get("cursor"); v != "" {
		if q.After, err = parseCursor(v); err != nil {
			return err
		}
	}
	if _, err := s.store.AccountGet(r.Context(), id); err != nil {
		return pathNotFound(err)
	}
	es, err := s.store.Entries(r.Context(), q)
	if err != nil {
		return err
	}
	size := 0
	for _, e := range es {
		size += 256 + len(e.Memo)
	}
	if err := fitRoom(w, r, size); err != nil {
		return err
	}
	page := struct {
		Entries    []entryView `json:"entries"`
		NextCursor *string     `json:"next_cursor"`
	}{Entries: []entryView{}}
	for _, e := range es {
		page.Entries = append(page.Entries, entryView{e.TxID, e.Type, e.Memo, e.Bucket, e.Currency, e.Amount, e.BalanceAfter, e.Version, e.CreatedAt})
	}
	if len(es) == q.Limit {
		last := es[len(es)-1]
		c := fmt.Sprintf("%d.%d", last.TxID, last.WalletID)
		page.NextCursor = &c
	}
	return writeJSON(w, http.StatusOK, page)
}

func parseCursor(v string) (abacus.EntryCursor, error) {
	tx, wallet, ok := strings.Cut(v, ".")
	t, err1 := strconv.ParseInt(tx, 10, 64)
	wl, err2 := strconv.ParseInt(wallet, 10, 64)
	if !ok || err1 != nil || err2 != nil || t <= 0 || wl <= 0 {
		return abacus.EntryCursor{}, abacus.Errorf(abacus.CodeInvalid, "cursor", "%q is not a cursor this API gave out", v)
	}
	return abacus.EntryCursor{TxID: t, WalletID: wl}, nil
}

// parseOptionalAmount is parseAmount for a field that may be left out:
// sent empty, it is refused as empty, not as missing.
func parseOptionalAmount(s, field string) (abacus.Amount, error) {
	if s == "" {
		return abacus.Zero, abacus.Errorf(abacus.CodeInvalid, field, "is empty: give a string holding an exact decimal such as \"10.5\", or leave the field out")
	}
	return parseAmount(s, field)
}
