package scfinvoke

// Wire types of the SCF Go1 protocol. gob matches struct fields by name, so
// the field names and kinds below are the contract; the type names are ours.
// The names keep the platform's spelling (RequestId, MemoryLimitInMb) because
// renaming a field would silently drop it on the wire.

// PingRequest is the argument of Function.Ping.
type PingRequest struct{}

// PingResponse is the reply of Function.Ping.
type PingResponse struct{}

// Timestamp is an absolute time as Unix seconds plus nanoseconds.
type Timestamp struct {
	Seconds int64
	Nanos   int64
}

// InvokeRequest is the argument of Function.Invoke.
type InvokeRequest struct {
	Payload               []byte
	RequestId             string //nolint:revive // wire name
	TraceId               string //nolint:revive // wire name
	Deadline              Timestamp
	InvokedFunctionUnique string
	ClientContext         []byte
	Namespace             string
	FunctionName          string
	FunctionVersion       string
	MemoryLimitInMb       int32
	TimeLimitInMs         int32
	Environment           string // JSON object of environment variables, applied per invoke
	TencentcloudRegion    string
	TencentcloudAppID     string
	TencentcloudUin       string
	FunctionTrace         string
}

// InvokeResponse is the reply of Function.Invoke. Exactly one of Payload and
// Error is meaningful: a non-nil Error means the invocation failed.
type InvokeResponse struct {
	Payload []byte
	Error   *InvokeError
}

// InvokeError is a failed invocation as the platform records it. ShouldExit
// asks the platform to replace this instance (set after a panic).
type InvokeError struct {
	Message    string
	Type       string
	StackTrace []*StackFrame
	ShouldExit bool
}

// StackFrame is one frame of a panic's stack trace.
type StackFrame struct {
	Path  string
	Line  int32
	Label string
}
