package tencentemu

import (
	"errors"
	"time"
	"unicode/utf8"
)

func tdmqActions() map[string]action {
	return map[string]action{
		// 100 requests/s: the current API page (facts/platform.md §9.9).
		"SendCmqMsg": {limit: 100, handle: (*Server).tdmqSendCmqMsg, params: []field{
			reqStr("QueueName"), reqStr("MsgContent"), reqNum("DelaySeconds"),
		}},
	}
}

// maxCMQMessage is CMQ's message size limit.
const maxCMQMessage = 64 << 10

func (s *Server) tdmqSendCmqMsg(c *call) (any, *apiError) {
	var req struct {
		QueueName, MsgContent string
		DelaySeconds          int64
	}
	if e := c.bind(&req); e != nil {
		return nil, e
	}
	if s.o.CMQ == nil {
		return nil, errf(codeUnsupportedOperation, "This emulator has no CMQ queue attached.")
	}
	if req.DelaySeconds < 0 || req.DelaySeconds > 3600 {
		return nil, errf(codeInvalidParamValue, "DelaySeconds must be between 0 and 3600.")
	}
	if req.QueueName == "" || utf8.RuneCountInString(req.QueueName) > 64 {
		return nil, errf(codeInvalidParamValue, "QueueName must be 1-64 characters.")
	}
	if len(req.MsgContent) == 0 || len(req.MsgContent) > maxCMQMessage {
		return nil, errf(codeInvalidParamValue, "MsgContent must be 1 byte to 64 KB.")
	}
	id, err := s.o.CMQ.SendMessage(req.QueueName, req.MsgContent, time.Duration(req.DelaySeconds)*time.Second)
	if err != nil {
		if errors.Is(err, ErrQueueNotFound) {
			return nil, errf(codeResourceNotFound, "The queue %s does not exist.", req.QueueName)
		}
		return nil, errf(codeFailedOperation, "sending the message failed: %v", err)
	}
	return struct {
		Result bool
		MsgId  string
	}{true, id}, nil
}
