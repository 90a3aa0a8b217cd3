package http

import (
	"fmt"
	"net/http"

	"github.com/abacus-billing/abacus"
)

type transactionRequest struct {
	Type     string           `json:"type"`
	Account  string           `json:"account"`
	Amount   string           `json:"amount"`
	Currency string           `json:"currency"`
	Bucket   string           `json:"bucket"`
	Memo     string           `json:"memo"`
	Postings []postingRequest `json:"postings"`
}

type postingRequest struct {
	Account  string `json:"account"`
	Bucket   string `json:"bucket"`
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// submit runs op under the request's Idempotency-Key and marks replays.
func (s *Server) submit(w http.ResponseWriter, r *http.Request, op abacus.Op) (abacus.Result, error) {
	// Two keys name two operations, and a retry carrying either would be
	// applied again under it (QA: the first was taken, and a retry with the
	// second charged twice).
	if keys := r.Header.Values("Idempotency-Key"); len(keys) > 1 {
		return abacus.Result{}, abacus.Errorf(abacus.CodeInvalid, "Idempotency-Key", "is sent %d times; send one key", len(keys))
	}
	res, err := s.engine.Submit(r.Context(), r.Header.Get("Idempotency-Key"), op)
	if err == nil && res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	return res, err
}

func (s *Server) handleTransactionCreate(w http.ResponseWriter, r *http.Request) error {
	var req transactionRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	op, err := req.op()
	if err != nil {
		return err
	}
	if caller(r).Role != abacus.RoleAdmin {
		if m, ok := op.(*abacus.Move); !ok || m.Type == abacus.TxAdjust {
			return abacus.Errorf(abacus.CodeForbidden, "", "only an admin key may post explicit postings or adjustments")
		}
	}
	res, err := s.submit(w, r, op)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, newTransactionView(res.Tx))
}

func (req *transactionRequest) op() (abacus.Op, error) {
	if req.Postings != nil {
		if req.Type != "" && req.Type != string(abacus.TxTransfer) {
			return nil, abacus.Errorf(abacus.CodeInvalid, "type", "give either a named operation or postings, not both")
		}
		if req.Account != "" || req.Amount != "" || req.Bucket != "" {
			return nil, abacus.Errorf(abacus.CodeInvalid, "postings", "with postings, account, amount and bucket go inside each posting")
		}
		t := &abacus.Transfer{Memo: req.Memo}
		for i, p := range req.Postings {
			field := fmt.Sprintf("postings[%d]", i)
			acct, err := abacus.ResolveAccountRef(p.Account)
			if err != nil {
				return nil, abacus.WithField(err, field)
			}
			amount, err := parseAmount(p.Amount, field+".amount")
			if err != nil {
				return nil, err
			}
			cur := p.Currency
			if cur == "" {
				cur = req.Currency
			}
			if cur == "" {
				return nil, abacus.Errorf(abacus.CodeInvalid, field+".currency", "is required (or give one currency for all postings)")
			}
			t.Postings = append(t.Postings, abacus.PostingSpec{Account: acct, Bucket: abacus.Bucket(p.Bucket), Currency: abacus.Currency(cur), Amount: amount})
		}
		return t, nil
	}
	if err := required(req.Type, "type"); err != nil {
		return nil, err
	}
	if err := required(req.Account, "account"); err != nil {
		return nil, err
	}
	if err := required(req.Currency, "currency"); err != nil {
		return nil, err
	}
	acct, err := abacus.ParseAccountID(req.Account)
	if err != nil {
		return nil, err
	}
	amount, err := parseAmount(req.Amount, "amount")
	if err != nil {
		return nil, err
	}
	return &abacus.Move{Type: abacus.TxType(req.Type), Account: acct, Currency: abacus.Currency(req.Currency),
		Amount: amount, Bucket: abacus.Bucket(req.Bucket), Memo: req.Memo}, nil
}

func (s *Server) handleTransactionGet(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	txs, err := s.store.Transactions(r.Context(), []int64{id})
	if err != nil {
		return err
	}
	if len(txs) == 0 {
		return abacus.Errorf(abacus.CodeNotFound, "id", "transaction %d does not exist", id)
	}
	t, ok := readableTransaction(r, txs[0])
	if !ok {
		return abacus.Errorf(abacus.CodeNotFound, "id", "transaction %d does not exist", id)
	}
	return writeJSON(w, http.StatusOK, newTransactionView(&t))
}

// readableTransaction returns t as the caller may see it. A user key
// reads a transaction that touches its account, and of it only its own
// account's postings: the others showed what other customers paid and
// held (a usage batch charges many in one transaction) and the platform's
// revenue (QA). Another's does not exist as far as it can tell: ids are
// sequential, and a 403 told which did.
func readableTransaction(r *http.Request, t abacus.Transaction) (abacus.Transaction, bool) {
	k := caller(r)
	if k.Role == abacus.RoleAdmin || k.Role == abacus.RoleService {
		return t, true
	}
	own := make([]abacus.Posting, 0, len(t.Postings))
	for _, p := range t.Postings {
		if p.Account == k.Account {
			own = append(own, p)
		}
	}
	t.Postings = own
	return t, len(own) > 0
}

type revertRequest struct {
	Memo string `json:"memo"`
}

func (s *Server) handleRevert(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req revertRequest
	if err := decodeOptional(w, r, &req); err != nil {
		return err
	}
	// Reverting is moving the money back: a key that may not post
	// explicit postings or adjustments may not revert them either (QA: a
	// service key reverted an admin's correction).
	if caller(r).Role != abacus.RoleAdmin {
		txs, err := s.store.Transactions(r.Context(), []int64{id})
		if err != nil {
			return err
		}
		if len(txs) == 1 && (txs[0].Type == abacus.TxAdjust || txs[0].Type == abacus.TxTransfer) {
			return abacus.Errorf(abacus.CodeForbidden, "", "only an admin key may revert explicit postings or adjustments")
		}
	}
	res, err := s.submit(w, r, &abacus.Revert{TxID: id, Memo: req.Memo})
	if err != nil {
		return pathNotFound(err)
	}
	return writeJSON(w, http.StatusCreated, newTransactionView(res.Tx))
}
