package lambdainvoke

import (
	"context"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/backupflow/backupflow/pkg/invoke"
)

// Start runs h under the Lambda Runtime API ($AWS_LAMBDA_RUNTIME_API). It
// does not return: aws-lambda-go exits the process when the runtime loop
// ends, including after a handler panic (reported to Lambda first).
// Build with -tags lambda.norpc: the legacy go1.x RPC transport is dead code
// on provided.al2023.
func Start(h invoke.Handler) {
	lambda.StartWithOptions(Wrap(h))
}

// Wrap returns h as an aws-lambda-go handler that puts invoke.Meta in the
// context: request ID from the Lambda context, region from the function ARN
// (else $AWS_REGION), function name and memory from the Lambda environment,
// and the invocation deadline.
func Wrap(h invoke.Handler) lambda.Handler {
	return &handler{h: h, region: os.Getenv("AWS_REGION")}
}

type handler struct {
	h      invoke.Handler
	region string
}

// Invoke implements lambda.Handler.
func (a *handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return a.h(invoke.WithMeta(ctx, a.meta(ctx)), payload)
}

func (a *handler) meta(ctx context.Context) invoke.Meta {
	m := invoke.Meta{
		Platform:     invoke.PlatformAWS,
		FunctionName: lambdacontext.FunctionName,
		MemoryMB:     lambdacontext.MemoryLimitInMB,
		Region:       a.region,
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		m.RequestID = lc.AwsRequestID
		// arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
		if parts := strings.Split(lc.InvokedFunctionArn, ":"); len(parts) >= 7 && parts[3] != "" {
			m.Region = parts[3]
			if m.FunctionName == "" {
				m.FunctionName = parts[6]
			}
		}
	}
	if d, ok := ctx.Deadline(); ok {
		m.Deadline = d
	}
	return m
}
