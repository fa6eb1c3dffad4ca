package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// SetTopLevelKey returns the config text src with the top-level key set to
// value (JSON text): an existing value is replaced in place, a missing key
// is added before the closing brace. Comments, other keys and their layout
// are kept byte for byte.
func SetTopLevelKey(src []byte, key string, value []byte) ([]byte, error) {
	plain, err := StripComments(src)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(plain))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("config: not a JSON object")
	}
	keys := 0
	found, fstart, fend := false, 0, 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		name, _ := tok.(string)
		keys++
		// The value starts after the colon and any white space.
		start := int(dec.InputOffset())
		for start < len(plain) && (plain[start] == ':' || isSpace(plain[start])) {
			start++
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if name == key { // the last one counts, as for a JSON decoder
			found, fstart, fend = true, start, int(dec.InputOffset())
		}
	}
	if found {
		return splice(src, fstart, fend, value), nil
	}
	// Not there: add it after the last value.
	end := bytes.LastIndexByte(plain, '}')
	last := end - 1
	for last >= 0 && isSpace(plain[last]) {
		last--
	}
	entry := fmt.Sprintf("\n  %q: %s", key, value)
	if keys > 0 {
		return splice(src, last+1, last+1, []byte(","+entry)), nil
	}
	return splice(src, last+1, last+1, []byte(entry+"\n")), nil
}

func splice(src []byte, start, end int, with []byte) []byte {
	out := make([]byte, 0, len(src)-(end-start)+len(with))
	out = append(out, src[:start]...)
	out = append(out, with...)
	return append(out, src[end:]...)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// writeFileAtomic replaces path with data: written to a temporary file in
// the same folder, synced, then renamed over it, so that a crash leaves
// either the old file or the new one. The file keeps its mode.
func writeFileAtomic(path string, data []byte) error {
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// saveConfigKey sets one top-level key of the config file at path.
func saveConfigKey(path, key string, value any) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	v, err := json.MarshalIndent(value, "  ", "  ")
	if err != nil {
		return err
	}
	out, err := SetTopLevelKey(src, key, v)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeFileAtomic(path, out)
}
