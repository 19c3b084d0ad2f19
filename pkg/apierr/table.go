package apierr

import "strings"

// The one table. Sources: the seed documents (every code they list is here),
// facts/database-apis.md §4.4, §5.4, §8 and the CMQ data-plane table §9.6.
// Exact codes win; otherwise the prefix before the first "." decides; an
// unknown code is Permanent so nothing retries forever on a surprise.
var tencentCodes = map[string]Kind{
	// Throttling.
	"RequestLimitExceeded":                              RetryLater,
	"RequestLimitExceeded.UinLimitExceeded":             RetryLater,
	"RequestLimitExceeded.IPLimitExceeded":              RetryLater,
	"RequestLimitExceeded.GlobalRegionUinLimitExceeded": RetryLater,
	"LimitExceeded.TooManyRequests":                     RetryLater,
	"ServiceUnavailable":                                RetryLater,
	// A recovery type the instance does not support: no retry changes it.
	"ResourceUnavailable.BackupMigrationRecoveryTypeErr": Permanent,
	// Busy instances and task conflicts.
	"OperationDenied.ActionInProcess":             RetryLater,
	"FailedOperation.StatusConflict":              RetryLater,
	"FailedOperation.TaskConflictError":           RetryLater,
	"FailedOperation.MigrationLockError":          RetryLater,
	"ResourceInUse":                               RetryLater,
	"ResourceInUse.IncrementalMigrationExist":     RetryLater,
	"ResourceUnavailable":                         RetryLater,
	"ResourceUnavailable.InstanceStatusInvalid":   RetryLater,
	"ResourceUnavailable.DBInvalidStatus":         RetryLater,
	"ResourceUnavailable.CosStatusErr":            RetryLater,
	"InvalidParameterValue.StatusAbnormal":        RetryLater,
	"InvalidParameterValue.IllegalInstanceStatus": RetryLater,
	// Documented for the backup lists during a poll (SDK error lists of cdb
	// DescribeBackups and sqlserver DescribeBackups): the instance is in a
	// passing state or the object store hiccupped; the next check may pass.
	"OperationDenied.WrongStatus":     RetryLater,
	"FailedOperation.CosError":        RetryLater,
	"ClientError.NetworkError":        RetryAfterLookup,
	"ClientError.HttpStatusCodeError": RetryAfterLookup,
	"ClientError.IOError":             RetryAfterLookup,
	// The SDK reports a gateway's HTML 5xx page as a JSON parse error: the
	// request may have run, so it is ambiguous, not a reason to fail the job.
	"ClientError.ParseJsonError":      RetryAfterLookup,
	"ClientError.CircuitBreakerError": RetryLater,
	// Ambiguous server faults: look up, then retry a few times.
	"InternalError":                     RetryAfterLookup,
	"InternalError.CdbError":            RetryAfterLookup,
	"InternalError.DatabaseAccessError": RetryAfterLookup,
	"InternalError.DesError":            RetryAfterLookup,
	"InternalError.HttpError":           RetryAfterLookup,
	"InternalError.NetworkError":        RetryAfterLookup,
	"InternalError.OssError":            RetryAfterLookup,
	"InternalError.UndefinedError":      RetryAfterLookup,
	"InternalError.UnknownError":        RetryAfterLookup,
	"InternalError.DBError":             RetryAfterLookup,
	"InternalError.GcsError":            RetryAfterLookup,
	"InternalError.SystemError":         RetryAfterLookup,
	"InternalError.CosError":            RetryAfterLookup,
	"InternalError.CheckAppIdFailed":    RetryAfterLookup,
	"CdbError":                          RetryAfterLookup,
	"FailedOperation":                   RetryAfterLookup,
	"FailedOperation.DBError":           RetryAfterLookup,
	"FailedOperation.GcsError":          RetryAfterLookup,
	// Permanent: auth, permissions, bad input, not found, quotas.
	"AuthFailure":                                          Permanent,
	"AuthFailure.SignatureFailure":                         Permanent,
	"AuthFailure.SignatureExpire":                          Permanent,
	"AuthFailure.SecretIdNotFound":                         Permanent,
	"AuthFailure.InvalidSecretId":                          Permanent,
	"AuthFailure.InvalidAuthorization":                     Permanent,
	"AuthFailure.TokenFailure":                             Permanent,
	"AuthFailure.MFAFailure":                               Permanent,
	"AuthFailure.UnauthorizedOperation":                    Permanent,
	"UnauthorizedOperation":                                Permanent,
	"UnauthorizedOperation.PermissionDenied":               Permanent,
	"OperationDenied.UserHasNoStrategy":                    Permanent,
	"OperationDenied.ActionNotSupport":                     Permanent,
	"InvalidParameter":                                     Permanent,
	"InvalidParameter.InputIllegal":                        Permanent,
	"InvalidParameter.ParamsAssertFailed":                  Permanent,
	"InvalidParameter.InstanceNotFound":                    Permanent,
	"InvalidParameter.PermissionDenied":                    Permanent,
	"InvalidParameterValue":                                Permanent,
	"InvalidParameterValue.BackupNameIsIllegal":            Permanent,
	"InvalidParameterValue.MigrationNameIsIllegal":         Permanent,
	"InvalidParameterValue.DataConvertError":               Permanent,
	"InvalidParameterValue.CheckAppIdFailed":               Permanent,
	"InvalidParameterValue.NotFoundInstance":               Permanent,
	"LimitExceeded":                                        Permanent,
	"LimitExceeded.TooManyDB":                              Permanent,
	"OverQuota":                                            Permanent,
	"ResourceNotFound":                                     Permanent,
	"ResourceNotFound.DBNotFound":                          Permanent,
	"ResourceNotFound.InstanceNotFound":                    Permanent,
	"ResourceNotFound.BackupNotFound":                      Permanent,
	"ResourceNotFound.FullBackupMigrationNotExist":         Permanent,
	"FailedOperation.TransparentDataEncryptionAlreadyOpen": Permanent,
	"MissingParameter":                                     Permanent,
	"UnknownParameter":                                     Permanent,
	"InvalidAction":                                        Permanent,
	"NoSuchVersion":                                        Permanent,
	"NoSuchProduct":                                        Permanent,
	"ActionOffline":                                        Permanent,
	"UnsupportedOperation":                                 Permanent,
	"UnsupportedRegion":                                    Permanent,
	"UnsupportedProtocol":                                  Permanent,
	"RequestSizeLimitExceeded":                             Permanent,
	"ResponseSizeLimitExceeded":                            Permanent,
	"IpInBlacklist":                                        Permanent,
	"IpNotInWhitelist":                                     Permanent,
	"InvalidRequest":                                       Permanent,
	"DryRunOperation":                                      Permanent,
	"ResourceInsufficient":                                 Permanent,
	"ClientError.CredentialError":                          Permanent,
	"ClientError.InvalidParameter":                         Permanent,
}

// Prefix fallbacks for codes not listed exactly.
var tencentPrefixes = map[string]Kind{
	"RequestLimitExceeded":  RetryLater,
	"ResourceUnavailable":   RetryLater,
	"ResourceInUse":         RetryLater,
	"InternalError":         RetryAfterLookup,
	"CdbError":              RetryAfterLookup,
	"ServiceUnavailable":    RetryLater,
	"AuthFailure":           Permanent,
	"UnauthorizedOperation": Permanent,
	"InvalidParameter":      Permanent,
	"InvalidParameterValue": Permanent,
	"ResourceNotFound":      Permanent,
	"LimitExceeded":         Permanent,
	"OperationDenied":       Permanent,
	"UnsupportedOperation":  Permanent,
	"MissingParameter":      Permanent,
	"FailedOperation":       Permanent,
}

// Huawei RDS and API gateway codes (facts/database-apis.md §5.4, §8).
var huaweiCodes = map[string]Kind{
	"APIGW.0308": RetryLater, // 429 throttled
	"APIGW.0301": Permanent,  // bad signature / unknown AK (5 failures lock the AK)
	"APIGW.0302": Permanent,
	"APIGW.0303": Permanent, // clock skew over 15 minutes
	"APIGW.0101": Permanent,
	// Instance busy, "retry later".
	"DBS.200011": RetryLater, "DBS.200019": RetryLater, "DBS.200047": RetryLater,
	"DBS.201202": RetryLater, "DBS.200018": RetryLater, "DBS.200611": RetryLater,
	"DBS.200080": RetryLater, "DBS.200463": RetryLater, "DBS.201015": RetryLater,
	"DBS.201206": RetryLater, "DBS.212033": RetryLater, "DBS.280011": RetryLater,
	"DBS.280343": RetryLater, "DBS.280816": RetryLater, "DBS.01010337": RetryLater,
	"DBS.01280030": RetryLater, "DBS.111205": RetryLater,
	// Server errors: ambiguous.
	"DBS.108000": RetryAfterLookup, "DBS.108002": RetryAfterLookup,
	"DBS.108005": RetryAfterLookup, "DBS.200005": RetryAfterLookup,
	"RDS.0005": RetryAfterLookup,
	// State does not allow the operation: a few retries after a lookup.
	"DBS.200076": RetryAfterLookup, "DBS.200086": RetryAfterLookup,
	// Permanent.
	"DBS.200001": Permanent, "DBS.200004": Permanent, "DBS.200006": Permanent,
	"DBS.200002": Permanent, "DBS.200045": Permanent, "DBS.200010": Permanent,
	"DBS.200044": Permanent, "DBS.200022": Permanent,
	"DBS.201209": Permanent, // duplicate backup name: resolve by lookup, never by retry
	"DBS.201210": Permanent, "DBS.280124": Permanent,
}

// CMQ data-plane codes (top-level "code"), facts/platform.md §9.6.
var cmqCodes = map[string]Kind{
	"7000": Permanent, // no message: callers treat it as an empty receive, not an error
	"4420": RetryLater, "4480": RetryLater, "6070": RetryLater, "4410": RetryLater,
	"6000": RetryAfterLookup, "6010": RetryAfterLookup, "6020": RetryAfterLookup,
	"4100": Permanent, "4000": Permanent, "4430": Permanent, "4440": Permanent,
	"4400": Permanent, "4470": Permanent, "4300": Permanent,
}

// Classify maps a cloud's error code to a Kind.
func Classify(cloud, code string) Kind {
	switch cloud {
	case Huawei:
		if k, ok := huaweiCodes[code]; ok {
			return k
		}
		return Permanent
	case CMQ:
		if k, ok := cmqCodes[code]; ok {
			return k
		}
		return Permanent
	}
	if k, ok := tencentCodes[code]; ok {
		return k
	}
	prefix, _, _ := strings.Cut(code, ".")
	if k, ok := tencentPrefixes[prefix]; ok {
		return k
	}
	return Permanent
}

// ClassifyStatus classifies an answer that is not the API's own (a
// gateway's or load balancer's page) by its HTTP status alone: 429 and 503
// mean the request was refused before it reached the API, so it retries
// later; any other 5xx may have run and is ambiguous. ok is false for a
// status that says nothing (2xx with an unreadable body is the caller's
// call: it is ambiguous too, see the ParseJsonError entry).
func ClassifyStatus(status int) (k Kind, ok bool) {
	switch {
	case status == 429 || status == 503:
		return RetryLater, true
	case status >= 500:
		return RetryAfterLookup, true
	}
	return Permanent, false
}

// ClassifyHTTP refines an error with its HTTP status where the code alone
// cannot tell: a Huawei code not in the table (409 is a conflict, busy);
// the codes the Tencent SDK makes up when the answer is not the API's; a
// CMQ or SQS answer that carries no API code (code "HTTP<status>"). The
// APIs' own errors keep their code's kind: Tencent's come with HTTP 200.
func ClassifyHTTP(cloud, code string, status int) Kind {
	gateway := false
	switch cloud {
	case Huawei:
		_, known := huaweiCodes[code]
		gateway = !known
		if gateway && status == 409 {
			return RetryLater
		}
	case Tencent:
		gateway = strings.HasPrefix(code, "ClientError.") && tencentCodes[code] != Permanent
	default:
		gateway = strings.HasPrefix(code, "HTTP")
	}
	if gateway {
		if k, ok := ClassifyStatus(status); ok {
			return k
		}
	}
	return Classify(cloud, code)
}

// KnownCodes lists every code in the table for a cloud, for tests and docs.
func KnownCodes(cloud string) []string {
	var m map[string]Kind
	switch cloud {
	case Huawei:
		m = huaweiCodes
	case CMQ:
		m = cmqCodes
	default:
		m = tencentCodes
	}
	out := make([]string, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	return out
}
