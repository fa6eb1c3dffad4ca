package boltstore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// The log in front of the bbolt file: a push is one record, appended with
// one write(2) (concurrent pushes share it), and later moved into bbolt in
// batches. A record is
//
//	length uint32 LE | crc32c(payload) uint32 LE | payload
//	payload: lsn uint64 BE | items | heads
//	items:   uvarint n, n × (endpoint, uvarint id, body)
//	heads:   uvarint n, n × (endpoint, uvarint head)
//
// where endpoint and body are a uvarint length and the bytes. A head is the
// lowest id the endpoint keeps after the push (older ones were dropped by
// the queue's bound).

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// walItem is one body queued under its id.
type walItem struct {
	endpoint string
	id       uint64
	body     []byte
}

// walHead is an endpoint's lowest kept id after a push.
type walHead struct {
	endpoint string
	head     uint64
}

// walRecord is one push.
type walRecord struct {
	lsn   uint64
	items []walItem
	heads []walHead
}

// maxRecord bounds a record's payload when reading: anything larger is a
// torn or foreign tail.
const maxRecord = 1 << 30

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendString(b []byte, v string) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// appendRecord appends r's frame to b.
func appendRecord(b []byte, r *walRecord) []byte {
	start := len(b)
	b = append(b, make([]byte, 8)...)
	b = binary.BigEndian.AppendUint64(b, r.lsn)
	b = binary.AppendUvarint(b, uint64(len(r.items)))
	for _, it := range r.items {
		b = appendString(b, it.endpoint)
		b = binary.AppendUvarint(b, it.id)
		b = appendBytes(b, it.body)
	}
	b = binary.AppendUvarint(b, uint64(len(r.heads)))
	for _, h := range r.heads {
		b = appendString(b, h.endpoint)
		b = binary.AppendUvarint(b, h.head)
	}
	payload := b[start+8:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(payload, crcTable))
	return b
}

var errBadRecord = errors.New("malformed log record")

// decoder reads the fields of one payload.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errBadRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errBadRecord
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// count reads a count of entries that take at least min bytes each.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.err = errBadRecord
	}
	return int(n)
}

// parsePayload decodes one record's payload. Bodies alias payload.
func parsePayload(payload []byte) (*walRecord, error) {
	if len(payload) < 8 {
		return nil, errBadRecord
	}
	r := &walRecord{lsn: binary.BigEndian.Uint64(payload)}
	d := &decoder{b: payload[8:]}
	n := d.count(3)
	for i := 0; i < n && d.err == nil; i++ {
		ep := string(d.bytes())
		id := d.uvarint()
		body := d.bytes()
		r.items = append(r.items, walItem{endpoint: ep, id: id, body: body})
	}
	n = d.count(2)
	for i := 0; i < n && d.err == nil; i++ {
		ep := string(d.bytes())
		r.heads = append(r.heads, walHead{endpoint: ep, head: d.uvarint()})
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errBadRecord
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

// readRecords decodes the records of one log segment, in order, up to the
// first one that is incomplete or does not check out (a write the process
// did not finish, or a torn page after a power loss): what follows it is
// not trusted.
func readRecords(data []byte) (recs []*walRecord, clean bool) {
	for len(data) > 0 {
		if len(data) < 8 {
			return recs, false
		}
		n := binary.LittleEndian.Uint32(data)
		sum := binary.LittleEndian.Uint32(data[4:])
		if n > maxRecord || uint64(n) > uint64(len(data)-8) {
			return recs, false
		}
		payload := data[8 : 8+n]
		if crc32.Checksum(payload, crcTable) != sum {
			return recs, false
		}
		r, err := parsePayload(payload)
		if err != nil {
			return recs, false
		}
		recs = append(recs, r)
		data = data[8+n:]
	}
	return recs, true
}
