package sqsemu_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/backupflow/backupflow/internal/emulator/fault"
	"github.com/backupflow/backupflow/internal/emulator/sqsemu"
)

const keyID, secretKey = "AKIAEMULATOR", "emulator-secret"

func client(t *testing.T, o sqsemu.Options, id, secret string) (*sqs.Client, string) {
	t.Helper()
	s := sqsemu.New(o)
	if err := s.CreateQueue("q"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	so := sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{}}
	if id != "" {
		so.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, nil
		})
	} else {
		so.Credentials = aws.AnonymousCredentials{}
	}
	return sqs.New(so), s.QueueURL(srv.URL, "q")
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Requests are checked as SQS checks them: no credentials, a foreign key or
// a signature made with the wrong secret are refused; the SDK's own
// signature (computed again with aws-sdk-go-v2's signer) is accepted.
func TestSigV4(t *testing.T) {
	o := sqsemu.Options{AccessKeyID: keyID, SecretAccessKey: secretKey}
	for _, tc := range []struct {
		name, id, secret, want string
	}{
		{"no credentials", "", "", "MissingAuthenticationToken"},
		{"unknown key", "AKIAOTHER", secretKey, "InvalidClientTokenId"},
		{"wrong secret", keyID, "not-the-secret", "SignatureDoesNotMatch"},
		{"right", keyID, secretKey, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, q := client(t, o, tc.id, tc.secret)
			_, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &q, MessageBody: aws.String("hi")})
			if code(err) != tc.want || (tc.want == "" && err != nil) {
				t.Errorf("SendMessage: err = %v (code %q); want %q", err, code(err), tc.want)
			}
		})
	}
	// Without a configured secret only the key is checked, but a request
	// must still carry SigV4 credentials.
	c, q := client(t, sqsemu.Options{}, "", "")
	if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &q, MessageBody: aws.String("hi")}); code(err) != "MissingAuthenticationToken" {
		t.Errorf("unsigned request to an emulator with no key set: err = %v; want MissingAuthenticationToken", err)
	}
}

// Message attributes travel with the message (the SDK checks the
// MD5OfMessageAttributes of both answers).
func TestMessageAttributesKept(t *testing.T) {
	c, q := client(t, sqsemu.Options{AccessKeyID: keyID, SecretAccessKey: secretKey}, keyID, secretKey)
	ctx := context.Background()
	attrs := map[string]types.MessageAttributeValue{
		"job":   {DataType: aws.String("String"), StringValue: aws.String("j1")},
		"seq":   {DataType: aws.String("Number"), StringValue: aws.String("3")},
		"token": {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q, MessageBody: aws.String("hi"), MessageAttributes: attrs}); err != nil {
		t.Fatal(err)
	}
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &q, MessageAttributeNames: []string{"All"}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("ReceiveMessage = %+v, %v", out, err)
	}
	got := out.Messages[0].MessageAttributes
	if len(got) != 3 || aws.ToString(got["job"].StringValue) != "j1" || aws.ToString(got["seq"].DataType) != "Number" ||
		string(got["token"].BinaryValue) != "\x00\x01\x02" {
		t.Errorf("attributes = %+v; want the three sent", got)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q, MessageBody: aws.String("x"),
		MessageAttributes: map[string]types.MessageAttributeValue{"bad": {DataType: aws.String("Date"), StringValue: aws.String("x")}}}); code(err) != "InvalidParameterValue" {
		t.Errorf("unknown data type: err = %v; want InvalidParameterValue", err)
	}
}

// Faults injected by the injector reach SQS callers.
func TestFaultsInjected(t *testing.T) {
	inj := fault.New(0, 1)
	c, q := client(t, sqsemu.Options{AccessKeyID: keyID, SecretAccessKey: secretKey, Faults: inj, Now: time.Now}, keyID, secretKey)
	inj.Force(fault.Throttle)
	if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &q, MessageBody: aws.String("hi")}); code(err) != "RequestThrottled" {
		t.Errorf("err = %v; want RequestThrottled", err)
	}
}
