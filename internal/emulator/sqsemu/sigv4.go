package sqsemu

import (
	"errors"
	"net/http"

	"github.com/backupflow/backupflow/internal/sigcheck"
	"github.com/backupflow/backupflow/pkg/sigv4"
)

// authorize checks the SigV4 credential scope and, when the server knows
// the secret, the signature itself, recomputed with aws-sdk-go-v2's own
// signer over the signed headers and the body.
func (s *Server) authorize(r *http.Request, body []byte) *apiError {
	_, err := sigcheck.Verify(r, sigv4.PayloadHash(body), "sqs", sigcheck.Key{ID: s.o.AccessKeyID, Secret: s.o.SecretAccessKey}, true)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sigcheck.ErrUnsigned):
		return newErr(403, "MissingAuthenticationToken", "MissingAuthenticationToken",
			"the request must contain a valid (registered) AWS access key ID and a SigV4 signature")
	case errors.Is(err, sigcheck.ErrUnknownKey):
		return newErr(403, "InvalidClientTokenId", "InvalidClientTokenId", "the security token included in the request is invalid")
	}
	return newErr(403, "SignatureDoesNotMatch", "SignatureDoesNotMatch",
		"the request signature we calculated does not match the signature you provided")
}
