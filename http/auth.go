package http

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/abacus-billing/abacus"
)

// keyCacheTTL is how long a verified key is trusted without asking the
// database again; a revocation takes effect everywhere within it.
const keyCacheTTL = 5 * time.Second

type cachedKey struct {
	key     abacus.APIKey
	fetched time.Time
}

// authenticator turns a bearer token into the API key it belongs to.
type authenticator struct {
	store abacus.Store
	mu    sync.Mutex
	cache map[string]cachedKey // by token hash
}

func (a *authenticator) key(ctx context.Context, token string) (abacus.APIKey, error) {
	hash := string(abacus.HashToken(token))
	now := time.Now()
	a.mu.Lock()
	c, ok := a.cache[hash]
	a.mu.Unlock()
	if !ok || now.Sub(c.fetched) > keyCacheTTL {
		k, err := a.store.APIKeyByHash(ctx, []byte(hash))
		if abacus.ErrorCodeOf(err) == abacus.CodeNotFound {
			return k, abacus.Errorf(abacus.CodeUnauthorized, "Authorization", "the API key is not known")
		}
		if err != nil {
			return k, err
		}
		c = cachedKey{k, now}
		a.mu.Lock()
		if len(a.cache) > 10_000 {
			clear(a.cache)
		}
		a.cache[hash] = c
		a.mu.Unlock()
	}
	if !c.key.RevokedAt.IsZero() {
		return c.key, abacus.Errorf(abacus.CodeUnauthorized, "Authorization", "the API key %s was revoked", c.key.ID)
	}
	return c.key, nil
}

type keyCtx struct{}

// caller returns the API key the request authenticated with.
func caller(r *http.Request) abacus.APIKey {
	k, _ := r.Context().Value(keyCtx{}).(abacus.APIKey)
	return k
}

// authenticate requires a valid bearer token and puts its key in the
// request context.
func (s *Server) authenticate(next handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		// Two are refused, as two Idempotency-Keys are: a proxy that checks
		// or adds the last would disagree with abacus, which took the first (QA).
		if n := len(r.Header.Values("Authorization")); n > 1 {
			return abacus.Errorf(abacus.CodeInvalid, "Authorization", "is sent %d times; send one key", n)
		}
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		token = strings.TrimSpace(token)
		// Auth schemes are case-insensitive (RFC 9110 11.1): "bearer" is Bearer.
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			return abacus.Errorf(abacus.CodeUnauthorized, "Authorization", "send an API key as \"Authorization: Bearer <key>\"")
		}
		k, err := s.auth.key(r.Context(), token)
		if err != nil {
			return err
		}
		// Keys made before user keys were held to customers' accounts, in
		// lower case: one bound to revenue read every customer's charges
		// (QA), and one in upper case read no account at all.
		if k.Role == abacus.RoleUser {
			acct, err := abacus.ParseCustomerID(string(k.Account))
			if err != nil {
				return abacus.Errorf(abacus.CodeForbidden, "Authorization", "this user key (%s) is bound to %s, which is no customer's account: revoke it, and make one for a customer (abacus keys create --role user --account UUID)", k.ID, k.Account)
			}
			k.Account = acct
		}
		// A client that asked to close (or spoke HTTP/1.0 without
		// keep-alive) takes none of its key's room (QA).
		if !r.Close && s.kept.keep(r.Context(), k.ID) {
			w.Header().Del("Connection") // a client with a key keeps its connection
		}
		return next(w, r.WithContext(context.WithValue(r.Context(), keyCtx{}, k)))
	}
}

// allow requires one of the roles.
func allow(roles ...abacus.Role) func(handler) handler {
	return func(next handler) handler {
		return func(w http.ResponseWriter, r *http.Request) error {
			k := caller(r)
			for _, role := range roles {
				if k.Role == role {
					return next(w, r)
				}
			}
			return abacus.Errorf(abacus.CodeForbidden, "", "a %s key may not do this", k.Role)
		}
	}
}

// mayRead reports whether the caller may read an account's data: admin
// and service keys read every account, a user key only its own.
func mayRead(r *http.Request, account abacus.AccountID) error {
	k := caller(r)
	if k.Role == abacus.RoleAdmin || k.Role == abacus.RoleService || k.Account == account {
		return nil
	}
	return abacus.Errorf(abacus.CodeForbidden, "", "this key may read account %s only", k.Account)
}
