package http

import (
	"net/http"
	"time"

	"github.com/abacus-billing/abacus"
)

type holdRequest struct {
	Account   string  `json:"account"`
	Amount    string  `json:"amount"`
	Currency  string  `json:"currency"`
	Bucket    string  `json:"bucket"`
	ExpiresAt *string `json:"expires_at"` // RFC 3339; left out: never
	Memo      string  `json:"memo"`
}

func (s *Server) handleHoldCreate(w http.ResponseWriter, r *http.Request) error {
	var req holdRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := required(req.Account, "account"); err != nil {
		return err
	}
	if err := required(req.Currency, "currency"); err != nil {
		return err
	}
	acct, err := abacus.ParseAccountID(req.Account)
	if err != nil {
		return err
	}
	amount, err := parseAmount(req.Amount, "amount")
	if err != nil {
		return err
	}
	op := &abacus.HoldCreate{Account: acct, Currency: abacus.Currency(req.Currency), Amount: amount, Bucket: abacus.Bucket(req.Bucket), Memo: req.Memo}
	if req.ExpiresAt != nil {
		// Empty, it had made a hold that never expires (QA).
		if *req.ExpiresAt == "" {
			return abacus.Errorf(abacus.CodeInvalid, "expires_at", "is empty: give an RFC 3339 time such as \"2026-12-01T10:00:00Z\", or leave the field out for a hold that does not expire")
		}
		if op.ExpiresAt, err = time.Parse(time.RFC3339Nano, *req.ExpiresAt); err != nil {
			return abacus.Errorf(abacus.CodeInvalid, "expires_at", "%q is not an RFC 3339 time such as \"2026-12-01T10:00:00Z\"", *req.ExpiresAt)
		}
		// Checked here, not only by the hold: its zero time means no
		// expiry, and "0001-01-01T00:00:00Z" made a hold that never expired (QA).
		if y := op.ExpiresAt.UTC().Year(); y < 2000 || y > 9999 {
			return abacus.Errorf(abacus.CodeInvalid, "expires_at", "must be a time between the years 2000 and 9999")
		}
	}
	res, err := s.submit(w, r, op)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, newHoldView(res.Hold))
}

func (s *Server) handleHoldGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	h, err := s.store.Hold(r.Context(), id)
	if err != nil {
		return pathNotFound(err)
	}
	// Another account's hold does not exist as far as a user key can tell:
	// ids are sequential, and a 403 told which did (QA).
	if mayRead(r, h.Account) != nil {
		return abacus.Errorf(abacus.CodeNotFound, "id", "hold %d does not exist", id)
	}
	return writeJSON(w, http.StatusOK, newHoldView(&h))
}

type holdPostRequest struct {
	Amount *string `json:"amount"` // left out: the whole hold
	Memo   string  `json:"memo"`
}

func (s *Server) handleHoldPost(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req holdPostRequest
	if err := decodeOptional(w, r, &req); err != nil {
		return err
	}
	op := &abacus.HoldPost{HoldID: id, Memo: req.Memo}
	if req.Amount != nil {
		// Empty, it had posted the whole hold (QA).
		a, err := parseOptionalAmount(*req.Amount, "amount")
		if err != nil {
			return err
		}
		op.Amount = &a
	}
	res, err := s.submit(w, r, op)
	if err != nil {
		return pathNotFound(err)
	}
	return writeJSON(w, http.StatusCreated, struct {
		Hold        holdView        `json:"hold"`
		Transaction transactionView `json:"transaction"`
	}{newHoldView(res.Hold), newTransactionView(res.Tx)})
}

func (s *Server) handleHoldVoid(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	// It takes no body: a field one carries ("amount") would not be kept,
	// so it is refused by name (QA: a partial void released the whole hold).
	if err := decodeOptional(w, r, &struct{}{}); err != nil {
		return err
	}
	res, err := s.submit(w, r, &abacus.HoldVoid{HoldID: id})
	if err != nil {
		return pathNotFound(err)
	}
	return writeJSON(w, http.StatusOK, newHoldView(res.Hold))
}
