package flow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/backupflow/backupflow/pkg/provider"
)

// StatusText renders a job's state (or, for an instance id or "", a hint)
// in one short line for chat and the CLI.
func (svc *Service) StatusText(ctx context.Context, query string) (string, error) {
	query = strings.TrimSpace(query)
	if query == "" {
		return "Send `status <job-id>` for one job; job ids are in every acknowledgement and notification.", nil
	}
	if _, ok := provider.ProductOf(query); ok {
		jobs, err := svc.InstanceJobs(ctx, query, 3)
		if err != nil {
			return "", err
		}
		if len(jobs) == 0 {
			return "No jobs recorded for " + query + ".", nil
		}
		var lines []string
		for _, j := range jobs {
			line, err := svc.StatusText(ctx, j.JobID)
			if err != nil {
				return "", err
			}
			lines = append(lines, line)
		}
		return strings.Join(lines, "\n"), nil
	}
	st, out, err := svc.State(ctx, query)
	if errors.Is(err, ErrUnknownJob) {
		return "No job " + query + " is known.", nil
	}
	if err != nil {
		return "", err
	}
	if out != nil {
		s := fmt.Sprintf("Job %s (%s %s): %s after %s", out.JobID, out.Op, out.Instance, out.Result, out.Duration().Round(time.Second))
		if out.Code != "" {
			s += " — " + out.Code + ": " + out.Message
		}
		return s, nil
	}
	return fmt.Sprintf("Job %s (%s %s): %s, %d status checks so far, last update %s", st.JobID, st.Spec.Op, st.Spec.InstanceID,
		st.State, st.Polls, st.Updated.UTC().Format(time.RFC3339)), nil
}
