package rating

import (
	"fmt"

	"github.com/abacus-billing/abacus"
	"github.com/shopspring/decimal"
)

// Licence types, as CloudSigma's /licenses/ names them.
const (
	LicenseInstall  = "install"  // billed per installation, running or not
	LicenseInstance = "instance" // billed while the server runs
	LicenseStub     = "stub"     // billed per a count the customer declares
)

// Limits on price fields.
const (
	MaxUnitType = 64
	MaxDesc     = 1000
)

// Validate checks one price version. Errors are *abacus.Error whose Field
// names the fault in the price file's names ("tiers[1].up_to",
// "license.type"). It checks:
//
//   - the key: sku_type ≥ 0, sku_kind ≥ 1, resource_id and sku_unit_type
//     present; currency a valid code; valid_from set; sku_unit ≥ 1;
//   - the model, and that only its fields are set: per_unit and package
//     use sku_price (package also package ≥ 1 and sku_unit = 1);
//     graduated and volume use tiers; burst uses levels;
//   - tiers: at least one; up_to strictly increasing; only the last tier
//     unbounded (up_to 0), and the last tier must be; no negative price or
//     flat fee;
//   - levels: at least one, each ≥ 0 (0 is the subscription price) and
//     listed once, no negative price;
//   - discounts: months ≥ 1, each months listed once, 0 ≤ fraction < 1;
//   - license: a name, a type of install, instance or stub, and a
//     user_metric for stub;
//   - sku_cached_price: only on a per_unit price of prompt tokens
//     (sku_kind 4), and not negative.
func Validate(p *abacus.Price) error {
	if p == nil {
		return abacus.Errorf(abacus.CodeInvalid, "price", "is missing")
	}
	switch {
	case p.SKUType < 0:
		return invalid("sku_type", "%d is negative (1 csghub, 2 starship)", p.SKUType)
	case p.SKUKind < 1:
		return invalid("sku_kind", "%d is not a sku_kind (1 time, 4 prompt tokens, 5 completion tokens, …)", p.SKUKind)
	case p.ResourceID == "":
		return invalid("resource_id", "is required")
	case p.UnitType == "":
		return invalid("sku_unit_type", "is required (minute, token, repository, count, …)")
	case p.Unit < 1:
		return invalid("sku_unit", "%d is not a number of base units (at least 1)", p.Unit)
	case p.ValidFrom.IsZero():
		return invalid("valid_from", "is required")
	}
	if err := abacus.ValidateText("resource_id", p.ResourceID, abacus.MaxEventText); err != nil {
		return err
	}
	if err := abacus.ValidateText("sku_unit_type", p.UnitType, MaxUnitType); err != nil {
		return err
	}
	if err := abacus.ValidateText("desc", p.Desc, MaxDesc); err != nil {
		return err
	}
	if _, err := abacus.ParseCurrency(string(p.Currency)); err != nil {
		return err
	}
	if p.UnitPrice.IsNegative() {
		return invalid("sku_price", "%s is negative", p.UnitPrice)
	}
	if err := validateModel(p); err != nil {
		return err
	}
	if c := p.CachedPrice; c.Valid {
		switch {
		case p.Model != abacus.ModelPerUnit:
			return invalid("sku_cached_price", "is not used by the %s model (only by per_unit)", p.Model)
		case p.SKUKind != KindPrompt:
			return invalid("sku_cached_price", "is the price of cached prompt tokens: only a price of sku_kind %d (prompt tokens) has one", KindPrompt)
		case c.Decimal.IsNegative():
			return invalid("sku_cached_price", "%s is negative; leave it out for cached tokens to cost sku_price (CSGHub's -1)", c.Decimal)
		}
	}
	months := map[int]int{}
	for i, d := range p.Discounts {
		f := fmt.Sprintf("discounts[%d]", i)
		if d.Months < 1 {
			return invalid(f+".months", "%d is not a number of months (at least 1)", d.Months)
		}
		if j, dup := months[d.Months]; dup {
			return invalid(f+".months", "%d months is listed twice (also discounts[%d])", d.Months, j)
		}
		months[d.Months] = i
		if d.Fraction.IsNegative() || d.Fraction.GreaterThanOrEqual(decimal.NewFromInt(1)) {
			return invalid(f+".fraction", "%s is not a fraction from 0 up to (not including) 1: 0.25 takes 25%% off", d.Fraction)
		}
	}
	if l := p.License; l != nil {
		switch {
		case l.Name == "":
			return invalid("license.name", "is required")
		case l.Type != LicenseInstall && l.Type != LicenseInstance && l.Type != LicenseStub:
			return invalid("license.type", "%q is not one of install, instance, stub", l.Type)
		case l.Type == LicenseStub && l.UserMetric == "":
			return invalid("license.user_metric", "is required for a stub licence: it names the extra field with the declared count")
		}
		for _, f := range []struct{ name, v string }{{"license.name", l.Name}, {"license.long_name", l.LongName}, {"license.user_metric", l.UserMetric}} {
			if err := abacus.ValidateText(f.name, f.v, MaxDesc); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateModel(p *abacus.Price) error {
	m := p.Model
	usesPrice := m == abacus.ModelPerUnit || m == abacus.ModelPackage
	usesTiers := m == abacus.ModelGraduated || m == abacus.ModelVolume
	switch m {
	case abacus.ModelPerUnit, abacus.ModelGraduated, abacus.ModelVolume, abacus.ModelPackage, abacus.ModelBurst:
	case "":
		return invalid("model", "is required (per_unit, graduated, volume, package, burst)")
	default:
		return invalid("model", "%q is not one of per_unit, graduated, volume, package, burst", m)
	}
	switch {
	case !usesPrice && !p.UnitPrice.IsZero():
		return invalid("sku_price", "is not used by the %s model: the prices go in %s", m, map[bool]string{true: "tiers", false: "levels"}[usesTiers])
	case !usesTiers && len(p.Tiers) > 0:
		return invalid("tiers", "are only for graduated and volume prices, not %s", m)
	case m != abacus.ModelBurst && len(p.Levels) > 0:
		return invalid("levels", "are only for burst prices, not %s", m)
	case m != abacus.ModelPackage && p.Package != 0:
		return invalid("package", "is only for package prices, not %s", m)
	}
	switch m {
	case abacus.ModelPackage:
		if p.Package < 1 {
			return invalid("package", "%d is not a package size (at least 1 base unit)", p.Package)
		}
		if p.Unit != 1 {
			return invalid("sku_unit", "must be 1 for a package price: sku_price is the price of one package of %d units", p.Package)
		}
	case abacus.ModelGraduated, abacus.ModelVolume:
		if len(p.Tiers) == 0 {
			return invalid("tiers", "are required for a %s price", m)
		}
		prev := int64(0)
		for i, t := range p.Tiers {
			f := fmt.Sprintf("tiers[%d]", i)
			last := i == len(p.Tiers)-1
			switch {
			case t.UpTo < 0:
				return invalid(f+".up_to", "%d is negative", t.UpTo)
			case t.UpTo == 0 && !last:
				return invalid(f+".up_to", "is required, and more than 0 (0 or none means unbounded): only the last tier is unbounded")
			case t.UpTo != 0 && last:
				return invalid(f+".up_to", "must be absent (or 0): the last tier is unbounded")
			case t.UpTo != 0 && t.UpTo <= prev:
				return invalid(f+".up_to", "must be greater than %d", prev)
			case t.UnitPrice.IsNegative():
				return invalid(f+".price", "%s is negative", t.UnitPrice)
			case t.FlatFee.IsNegative():
				return invalid(f+".flat_fee", "%s is negative", t.FlatFee)
			}
			prev = t.UpTo
		}
	case abacus.ModelBurst:
		if len(p.Levels) == 0 {
			return invalid("levels", "are required for a burst price")
		}
		seen := map[int]int{}
		for i, l := range p.Levels {
			f := fmt.Sprintf("levels[%d]", i)
			if l.Level < 0 {
				return invalid(f+".level", "%d is negative (0 is the subscription price, burst levels start at 1)", l.Level)
			}
			if j, dup := seen[l.Level]; dup {
				return invalid(f+".level", "level %d is listed twice (also levels[%d])", l.Level, j)
			}
			seen[l.Level] = i
			if l.UnitPrice.IsNegative() {
				return invalid(f+".price", "%s is negative", l.UnitPrice)
			}
		}
	}
	return nil
}

func invalid(field, format string, args ...any) error {
	return abacus.Errorf(abacus.CodeInvalid, field, format, args...)
}
