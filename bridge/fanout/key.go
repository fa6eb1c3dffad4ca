package fanout

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	pb "github.com/switchboard-hub/switchboard/gen/switchboard/v1"
)

// anyValue in a filter list matches every value, like an empty list.
const anyValue = "*"

// FilterSetKey returns a canonical key for a set of filters: sets that match
// the same events under the filter rules of event.proto get the same key,
// whatever the order of filters and list values, duplicates, or whether
// "any" is spelled as an empty list or as "*". Different sets get different
// keys: every string is quoted, so no value can forge a separator.
//
// The key does not cover SubscribeRequest.since or session_id; a face that
// sets those must add them to its group key itself.
func FilterSetKey(filters []*pb.Filter) string {
	parts := make([]string, 0, len(filters))
	for _, f := range filters {
		parts = append(parts, filterKey(f))
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	return strings.Join(parts, "|")
}

func filterKey(f *pb.Filter) string {
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(strconv.Quote(f.GetTenant()))
	writeStrings(&b, ";c=", f.GetChannels())
	writeStrings(&b, ";s=", f.GetSubjects())
	writeStrings(&b, ";n=", f.GetNames())
	writeStrings(&b, ";k=", f.GetKeys())
	b.WriteString(";d=")
	codes := slices.Clone(f.GetCodes())
	slices.SortFunc(codes, cmp.Compare[int32])
	for i, c := range slices.Compact(codes) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(int64(c), 10))
	}
	return b.String()
}

// writeStrings writes a list in canonical form: "*" when it matches any
// value, otherwise its distinct values sorted and quoted.
func writeStrings(b *strings.Builder, label string, values []string) {
	b.WriteString(label)
	if len(values) == 0 || slices.Contains(values, anyValue) {
		b.WriteString(anyValue)
		return
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	for i, v := range slices.Compact(sorted) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(v))
	}
}
