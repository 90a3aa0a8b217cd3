package http

import (
	"net/http"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/abacus-billing/abacus"
)

type utilisationRequest struct {
	Resource string `json:"resource"`
	Percent  string `json:"percent"` // an exact decimal, 0 to 100
}

// handleUtilisation records a resource's current utilisation, from which
// the next burst level is computed at the next 5-minute cycle.
func (s *Server) handleUtilisation(w http.ResponseWriter, r *http.Request) error {
	var req utilisationRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := required(strings.TrimSpace(req.Resource), "resource"); err != nil {
		return err
	}
	if strings.TrimSpace(req.Resource) != req.Resource {
		// " cpu " would be a resource of its own, which no price names.
		return abacus.Errorf(abacus.CodeInvalid, "resource", "%q has spaces around it; send the resource_id the burst prices name", req.Resource)
	}
	if err := abacus.ValidateText("resource", req.Resource, abacus.MaxEventText); err != nil {
		return err
	}
	if err := required(req.Percent, "percent"); err != nil {
		return err
	}
	p, err := decimal.NewFromString(req.Percent)
	// "1e1" is not 10 here, nor ".5" a half (QA: taken, where an amount
	// refuses it).
	if err != nil || !abacus.PlainDecimal(req.Percent) || p.IsNegative() || p.GreaterThan(decimal.NewFromInt(100)) {
		return abacus.Errorf(abacus.CodeInvalid, "percent", "%q is not a decimal from 0 to 100", req.Percent)
	}
	if err := s.store.BurstUtilisationSet(r.Context(), req.Resource, p, s.now().UTC()); err != nil {
		return err
	}
	return s.handleBurstLevels(w, r)
}

// handleBurstLevels shows the burst levels in force and those computed for
// the next cycle, as CloudSigma's /pricing/ current and next.
func (s *Server) handleBurstLevels(w http.ResponseWriter, r *http.Request) error {
	current, next, err := s.store.BurstLevels(r.Context(), s.now().UTC())
	if err != nil {
		return err
	}
	size := 0
	for res := range current {
		size += 64 + len(res)
	}
	for res := range next {
		size += 64 + len(res)
	}
	if err := fitRoom(w, r, size); err != nil {
		return err
	}
	// A resource whose level never changed is at level 1, which is not
	// recorded; a client building its current prices from current needs it.
	if current == nil {
		current = map[string]int{}
	}
	for r := range next {
		if _, ok := current[r]; !ok {
			current[r] = 1
		}
	}
	return writeJSON(w, http.StatusOK, map[string]map[string]int{"current": current, "next": next})
}
