package server

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateEntry(t *testing.T) {
	good := strings.Repeat("a", MinKeyLen)
	if err := ValidateEntry(good, good, good); err != nil {
		t.Errorf("valid user and IDs: %v", err)
	}
	for _, c := range []struct {
		user string
		ids  []string
		want string
	}{
		{"", nil, "user key"},
		{good, []string{good, "Bad/ID"}, "entry ID"},
	} {
		err := ValidateEntry(c.user, c.ids...)
		if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ValidateEntry(%q, %q) = %v; want ErrInvalidKey naming the %s", c.user, c.ids, err, c.want)
		}
	}
}
