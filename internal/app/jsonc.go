package app

import (
	"errors"
)

// StripComments turns JSON with // and /* */ comments (what genconfig
// writes) into plain JSON. Comment bytes become spaces so that decoder
// error offsets still point into the original file.
func StripComments(in []byte) ([]byte, error) {
	out := make([]byte, len(in))
	copy(out, in)
	inString := false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inString {
			switch c {
			case '\\':
				i++ // skip the escaped byte
			case '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			for i < len(out) && out[i] != '\n' {
				out[i] = ' '
				i++
			}
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			j := i + 2
			for j+1 < len(out) && !(out[j] == '*' && out[j+1] == '/') {
				j++
			}
			if j+1 >= len(out) {
				return nil, errors.New("unterminated /* comment")
			}
			for k := i; k <= j+1; k++ {
				if out[k] != '\n' {
					out[k] = ' '
				}
			}
			i = j + 1
		}
	}
	return out, nil
}
