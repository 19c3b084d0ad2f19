package objstore

import (
	"net/http"
	"time"

	"github.com/backupflow/backupflow/pkg/secret"
	"github.com/backupflow/backupflow/pkg/tencent"
)

// The configuration types stay in every build; the stores behind them are
// fenced by build tag so each platform's binary links one SDK: SCF builds
// (-tags scf) leave out S3, Lambda builds (-tags lambda.norpc) leave out COS.

// COSConfig configures a COS store.
type COSConfig struct {
	Credentials tencent.Credentials
	// Region is the long region name of the buckets, e.g. ap-guangzhou.
	Region string
	// Endpoint (BACKUPFLOW_COS_ENDPOINT), when set, is an emulator's
	// host:port or URL. Requests are dialled there but keep the real COS
	// Host (<bucket>.cos.<region>.myqcloud.com), which signs them and names
	// the bucket; presigned URLs still point at the real COS host.
	Endpoint string
	// Now is the clock signatures are made with (presigned URLs and request
	// headers alike), so a test clock shared with the emulator stays
	// consistent; default time.Now.
	Now func() time.Time
	// HTTPClient supplies the base transport and timeout. A non-*http.Transport
	// RoundTripper is used as is, Endpoint notwithstanding.
	HTTPClient *http.Client
}

// S3Config configures an S3 store.
type S3Config struct {
	Region string
	// Static credentials; on Lambda they are the role's AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
	AccessKeyID     string
	SecretAccessKey secret.String
	SessionToken    secret.String
	// Endpoint overrides the S3 endpoint (an emulator or a test server,
	// "http://host:port"); empty means AWS. It implies path-style addressing.
	Endpoint string
	// UsePathStyle forces path-style addressing without an Endpoint.
	UsePathStyle bool
	// HTTPClient overrides the transport (tests).
	HTTPClient *http.Client
}
