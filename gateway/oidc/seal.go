package oidc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// sealer encrypts and authenticates cookie values (AES-256-GCM), binding
// each to its cookie's name so one cookie cannot stand in for another.
type sealer struct{ aead cipher.AEAD }

// minKeyBytes is the shortest session key accepted.
const minKeyBytes = 32

// newSealer derives the AES key from key (SHA-256), or from random bytes
// when key is nil.
func newSealer(key []byte) (*sealer, error) {
	if key == nil {
		key = make([]byte, minKeyBytes)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("oidc: session key: %w", err)
		}
	}
	if len(key) < minKeyBytes {
		return nil, fmt.Errorf("oidc: session key of %d bytes is shorter than %d", len(key), minKeyBytes)
	}
	k := sha256.Sum256(key)
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(name string, plain []byte) string {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(name)))
}

var errSealed = errors.New("oidc: cookie not sealed by this gateway")

func (s *sealer) open(name, value string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(b) < s.aead.NonceSize() {
		return nil, errSealed
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(name))
	if err != nil {
		return nil, errSealed
	}
	return plain, nil
}
