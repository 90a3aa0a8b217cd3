package store

import (
	"fmt"
	"strings"
)

// UniquePriceVersions is the migration that makes a price version (its
// key, currency and valid_from) unique. Before it, two imports that raced
// could both store a book's versions, and the engine refused to rate from
// such a book; the migration's unique index then failed on them, leaving
// the database between versions (QA).
const UniquePriceVersions = 8

// PriceCopy is a stored price version that shares its key, currency and
// valid_from with another, as the stores read them before
// UniquePriceVersions.
type PriceCopy struct {
	ID      int64
	Key     string // key, currency and valid_from, as an operator reads them
	Content string // every other field but the row's creation time
	Named   bool   // an event names it among the versions that rated it
}

// PriceCopiesQuery reads, in both dialects, the price versions that share
// their key, currency and valid_from with another, in key order, with
// whether events name them: id, the key's six columns, unit, model,
// unit_price, params, description, named.
const PriceCopiesQuery = `SELECT id, ` + priceKey + `, unit, model, unit_price, params, description,
	EXISTS (SELECT 1 FROM usage_events e WHERE ',' || e.price_ids || ',' LIKE '%,' || p.id || ',%')
	FROM prices p
	WHERE (` + priceKey + `) IN (SELECT ` + priceKey + ` FROM prices GROUP BY ` + priceKey + ` HAVING COUNT(*) > 1)
	ORDER BY ` + priceKey + `, id`

const priceKey = `sku_type, sku_kind, resource_id, unit_type, currency, valid_from`

// NewPriceCopy is a row of PriceCopiesQuery as a PriceCopy, its valid_from
// spelled as RFC 3339.
func NewPriceCopy(id, skuType, skuKind int64, resourceID, unitType, currency, validFrom string, unit int64, model, unitPrice, params, description string, named bool) PriceCopy {
	return PriceCopy{
		ID:      id,
		Key:     fmt.Sprintf("sku_type %d, sku_kind %d, resource_id %q, sku_unit_type %q, %s, valid from %s", skuType, skuKind, resourceID, unitType, currency, validFrom),
		Content: strings.Join([]string{fmt.Sprint(unit), model, unitPrice, params, description}, "\x00"),
		Named:   named,
	}
}

// SettleCopies decides which copies go: of a version stored more than
// once with the same content, the copy events name stays (or the first,
// if none is named) and the others go. Copies that differ, or more than
// one of which events name, cannot be settled without a person: the
// error names them, and says what to do.
func SettleCopies(copies []PriceCopy) (remove []int64, err error) {
	var problems []string
	for start := 0; start < len(copies); {
		end := start + 1
		for end < len(copies) && copies[end].Key == copies[start].Key {
			end++
		}
		group := copies[start:end]
		start = end
		keep, named, same := group[0].ID, 0, true
		for _, c := range group {
			same = same && c.Content == group[0].Content
			if c.Named {
				keep = c.ID
				named++
			}
		}
		ids := make([]string, len(group))
		for i, c := range group {
			ids[i] = fmt.Sprint(c.ID)
		}
		switch {
		case !same:
			problems = append(problems, fmt.Sprintf("%s: versions %s differ", group[0].Key, strings.Join(ids, ", ")))
		case named > 1:
			problems = append(problems, fmt.Sprintf("%s: versions %s are each named by events", group[0].Key, strings.Join(ids, ", ")))
		default:
			for _, c := range group {
				if c.ID != keep {
					remove = append(remove, c.ID)
				}
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("the price book holds versions stored more than once, by imports that raced on an abacus before this one (which could not rate from such a book): %s. "+
			"Nothing was changed. Keep one version of each: delete the others (DELETE FROM prices WHERE id IN (…)), choosing ones no event names (usage_events.price_ids), then run abacus migrate again",
			strings.Join(problems, "; "))
	}
	return remove, nil
}
