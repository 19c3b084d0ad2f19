package emulator_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/backupflow/backupflow/internal/emulator"
	"github.com/backupflow/backupflow/internal/emulator/fault"
)

// The emulator's SQS takes the key pair Env hands out, verifies the
// signature, and gets the same injected faults as the other clouds.
func TestSQSKeysAndFaults(t *testing.T) {
	inj := fault.New(0, 1)
	e, err := emulator.New(emulator.Options{Faults: inj})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	env := e.Env(srv.URL)
	newClient := func(id, secret string) *sqs.Client {
		return sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(env["BACKUPFLOW_AWS_ENDPOINT"]), Retryer: aws.NopRetryer{},
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, nil
			})})
	}
	ctx := context.Background()
	good := newClient(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
	q, err := good.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(emulator.DefaultQueues[0])})
	if err != nil {
		t.Fatalf("GetQueueUrl with Env's keys: %v", err)
	}
	code := func(err error) string {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return ae.ErrorCode()
		}
		return ""
	}
	if _, err := newClient(env["AWS_ACCESS_KEY_ID"], "wrong").SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("x")}); code(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: err = %v; want SignatureDoesNotMatch", err)
	}
	inj.Force(fault.Throttle)
	if _, err := good.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String("x")}); code(err) != "RequestThrottled" {
		t.Errorf("injected throttle: err = %v; want RequestThrottled", err)
	}
}
