package test

import (
	"regexp"
	"strconv"
)

func itoa(n int) string { return strconv.Itoa(n) }

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
