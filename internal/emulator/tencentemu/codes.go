package tencentemu

import (
	"fmt"
	"sort"
)

// Every code the emulator can answer with. Codes() returns them so a test can
// prove each one is known to pkg/apierr's table.
const (
	codeSecretIDNotFound     = "AuthFailure.SecretIdNotFound"
	codeSignatureFailure     = "AuthFailure.SignatureFailure"
	codeSignatureExpire      = "AuthFailure.SignatureExpire"
	codeInvalidAuthorization = "AuthFailure.InvalidAuthorization"
	codeTokenFailure         = "AuthFailure.TokenFailure"
	codeNoSuchVersion        = "NoSuchVersion"
	codeNoSuchProduct        = "NoSuchProduct"
	codeInvalidAction        = "InvalidAction"
	codeUnknownParameter     = "UnknownParameter"
	codeMissingParameter     = "MissingParameter"
	codeInvalidParameter     = "InvalidParameter"
	codeInvalidParamValue    = "InvalidParameterValue"
	codeRequestSizeLimit     = "RequestSizeLimitExceeded"
	codeRequestLimit         = "RequestLimitExceeded"
	codeInvalidRequest       = "InvalidRequest"
	codeUnsupportedOperation = "UnsupportedOperation"
	codeInternalError        = "InternalError"
	codeFailedOperation      = "FailedOperation"
	codeResourceNotFound     = "ResourceNotFound"

	// cdb
	codeCdbInternal         = "InternalError.CdbError"
	codeCdbInstanceNotFound = "InvalidParameter.InstanceNotFound"
	codeCdbActionInProcess  = "OperationDenied.ActionInProcess"
	codeCdbActionNotSupport = "OperationDenied.ActionNotSupport"
	codeCdbStatusConflict   = "FailedOperation.StatusConflict"
	codeCdbBackupError      = "CdbError.BackupError"

	// sqlserver
	codeMssqlInternal         = "InternalError.SystemError"
	codeMssqlInstanceNotFound = "ResourceNotFound.InstanceNotFound"
	codeMssqlStatusInvalid    = "ResourceUnavailable.InstanceStatusInvalid"
	codeMssqlInputIllegal     = "InvalidParameter.InputIllegal"
	codeDBNotFound            = "ResourceNotFound.DBNotFound"
	codeBackupNameIllegal     = "InvalidParameterValue.BackupNameIsIllegal"
	codeMigrationNameIllegal  = "InvalidParameterValue.MigrationNameIsIllegal"
	codeBackupNotFound        = "ResourceNotFound.BackupNotFound"
	codeMigrationNotExist     = "ResourceNotFound.FullBackupMigrationNotExist"
	codeCosStatusErr          = "ResourceUnavailable.CosStatusErr"

	// mongodb
	codeMongoNotFound        = "InvalidParameterValue.NotFoundInstance"
	codeMongoStatusAbnormal  = "InvalidParameterValue.StatusAbnormal"
	codeMongoIllegalStatus   = "InvalidParameterValue.IllegalInstanceStatus"
	codeMongoTooManyRequests = "LimitExceeded.TooManyRequests"
	codeMongoTDEOpen         = "FailedOperation.TransparentDataEncryptionAlreadyOpen"
)

var allCodes = []string{
	codeSecretIDNotFound, codeSignatureFailure, codeSignatureExpire, codeInvalidAuthorization,
	codeTokenFailure, codeNoSuchVersion, codeNoSuchProduct, codeInvalidAction, codeUnknownParameter,
	codeMissingParameter, codeInvalidParameter, codeInvalidParamValue, codeRequestSizeLimit,
	codeRequestLimit, codeInvalidRequest, codeUnsupportedOperation, codeInternalError,
	codeFailedOperation, codeResourceNotFound,
	codeCdbInternal, codeCdbInstanceNotFound, codeCdbActionInProcess, codeCdbActionNotSupport,
	codeCdbStatusConflict, codeCdbBackupError,
	codeMssqlInternal, codeMssqlInstanceNotFound, codeMssqlStatusInvalid, codeMssqlInputIllegal,
	codeDBNotFound, codeBackupNameIllegal, codeMigrationNameIllegal, codeBackupNotFound,
	codeMigrationNotExist, codeCosStatusErr,
	codeMongoNotFound, codeMongoStatusAbnormal, codeMongoIllegalStatus, codeMongoTooManyRequests, codeMongoTDEOpen,
}

// apiError is an answer in the error envelope.
type apiError struct {
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errf(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Codes returns every error code this emulator can answer with, sorted.
func (s *Server) Codes() []string {
	out := append([]string(nil), allCodes...)
	sort.Strings(out)
	return out
}
