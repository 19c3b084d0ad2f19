package scfinvoke_test

// Client-side wire types, as the platform would declare them: different type
// names from the package's own (gob matches fields by name only), an extra
// field the server does not know, and a wider integer.

type platformPing struct{}

type platformPong struct{}

type platformDeadline struct {
	Seconds int64
	Nanos   int64
}

type platformInvoke struct {
	Payload            []byte
	RequestId          string //nolint:revive // wire name
	Deadline           platformDeadline
	FunctionName       string
	MemoryLimitInMb    int64
	Environment        string
	TencentcloudRegion string
	PlatformOnlyField  string
}

type platformReply struct {
	Payload []byte
	Error   *platformError
}

type platformError struct {
	Message    string
	Type       string
	StackTrace []*platformFrame
	ShouldExit bool
}

type platformFrame struct {
	Path  string
	Line  int64
	Label string
}
