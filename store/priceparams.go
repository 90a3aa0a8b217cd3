package store

import (
	"encoding/json"
	"fmt"

	"github.com/abacus-billing/abacus"
)

// priceParams is how both stores keep the model-specific parts of a price:
// one JSON column, with every decimal as a string so nothing passes
// through a float.
type priceParams struct {
	Tiers     []abacus.PriceTier          `json:"tiers,omitempty"`
	Package   int64                       `json:"package,omitempty"`
	Levels    []abacus.BurstPrice         `json:"levels,omitempty"`
	Discounts []abacus.CommitmentDiscount `json:"discounts,omitempty"`
	License   *abacus.License             `json:"license,omitempty"`
}

// EncodePriceParams returns the JSON column of a price.
func EncodePriceParams(p *abacus.Price) (string, error) {
	b, err := json.Marshal(priceParams{p.Tiers, p.Package, p.Levels, p.Discounts, p.License})
	return string(b), err
}

// DecodePriceParams fills a price's model-specific parts from its column.
func DecodePriceParams(s string, p *abacus.Price) error {
	var pp priceParams
	if err := json.Unmarshal([]byte(s), &pp); err != nil {
		return fmt.Errorf("store: price %d: reading its parameters: %w", p.ID, err)
	}
	p.Tiers, p.Package, p.Levels, p.Discounts, p.License = pp.Tiers, pp.Package, pp.Levels, pp.Discounts, pp.License
	return nil
}
