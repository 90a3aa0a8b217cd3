package abacus

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Role is what an API key may do.
type Role string

// Roles.
const (
	RoleAdmin   Role = "admin"   // everything
	RoleService Role = "service" // a platform backend: acts for any account
	RoleUser    Role = "user"    // reads one account
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleService, RoleUser:
		return r, nil
	}
	return "", Errorf(CodeInvalid, "role", "%q is not one of admin, service, user", s)
}

// APIKey is a credential. Only a hash of the token is stored; the token
// itself is shown once, when the key is created.
type APIKey struct {
	ID        string
	Name      string
	Role      Role
	Account   AccountID // with RoleUser: the one account it may read
	Hash      []byte
	CreatedAt time.Time
	RevokedAt time.Time // zero while the key is valid
}

// HashToken returns the stored form of a token. Tokens are long random
// strings, so a plain SHA-256 is enough: there is nothing to brute-force.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

var tokenEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewAPIKey makes a key with a fresh random token and returns both.
func NewAPIKey(name string, role Role, account AccountID, now time.Time) (APIKey, string, error) {
	if err := ValidateKeyName(name); err != nil {
		return APIKey{}, "", err
	}
	if role == RoleUser {
		// A key bound to a system account would read every transaction
		// that touches it: revenue's are every customer's charges.
		acct, err := ParseCustomerID(string(account))
		if err != nil {
			return APIKey{}, "", err
		}
		account = acct
	} else if account != "" {
		return APIKey{}, "", Errorf(CodeInvalid, "account", "only a user key is tied to an account")
	}
	// The id is random bytes of its own: it was the token's first eight
	// characters, 40 of its bits shown wherever ids are (QA).
	var b [25 + 5]byte
	if _, err := rand.Read(b[:]); err != nil {
		return APIKey{}, "", fmt.Errorf("abacus: reading random bytes: %w", err)
	}
	id := "key_" + strings.ToLower(tokenEncoding.EncodeToString(b[25:]))
	token := "abk_" + strings.ToLower(tokenEncoding.EncodeToString(b[:25]))
	return NewAPIKeyWithToken(id, name, role, account, token, now), token, nil
}

// ValidateKeyName checks a key's name: printable text, as keys list shows
// it in a table (QA: an escape sequence and a newline passed).
func ValidateKeyName(name string) error {
	if err := ValidateText("name", name, 200); err != nil {
		return err
	}
	if strings.IndexFunc(name, func(r rune) bool { return !unicode.IsGraphic(r) }) >= 0 {
		return Errorf(CodeInvalid, "name", "%q holds a control or format character (a tab, a line break, an escape, a direction mark); use printable text", name)
	}
	return nil
}

// NewAPIKeyWithToken makes a key for a token chosen by the operator.
func NewAPIKeyWithToken(id, name string, role Role, account AccountID, token string, now time.Time) APIKey {
	return APIKey{ID: id, Name: name, Role: role, Account: account, Hash: HashToken(token), CreatedAt: now}
}
