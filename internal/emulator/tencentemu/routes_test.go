package tencentemu

import (
	"math"
	"testing"
)

func TestPage(t *testing.T) {
	tests := []struct {
		n             int
		offset, limit int64
		lo, hi        int
	}{
		{10, 0, 3, 0, 3},
		{10, 9, 3, 9, 10},
		{10, 10, 3, 10, 10},
		{10, -1, 3, 10, 10},
		{10, 2, math.MaxInt64, 2, 10},
		{10, math.MaxInt64, 5, 10, 10},
		{10, 3, 0, 10, 10},
		{0, 0, 20, 0, 0},
	}
	for _, tc := range tests {
		lo, hi := page(tc.n, tc.offset, tc.limit)
		if lo != tc.lo || hi != tc.hi {
			t.Errorf("page(%d, %d, %d) = %d, %d; want %d, %d", tc.n, tc.offset, tc.limit, lo, hi, tc.lo, tc.hi)
		}
	}
}
