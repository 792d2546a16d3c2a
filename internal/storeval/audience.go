package storeval

// scanAudience reads an event's audience as the stores write it
// (json.Marshal of a list of party names: null, [] or ["a","b"]),
// without a JSON decoder: reading events for a peer or a page reads one
// audience an event. It reads only lists of strings of printable ASCII
// with no quote or backslash, which encoding/json decodes byte for byte;
// anything else (ok false) is left to decodeDoc. FuzzScanAudience holds it
// to encoding/json.
func scanAudience(doc string) (out []string, ok bool) {
	if doc == "null" {
		return nil, true
	}
	if len(doc) < 2 || doc[0] != '[' || doc[len(doc)-1] != ']' {
		return nil, false
	}
	body := doc[1 : len(doc)-1]
	out = []string{}
	if body == "" {
		return out, true
	}
	for {
		if len(body) < 2 || body[0] != '"' {
			return nil, false
		}
		i := 1
		for i < len(body) && body[i] != '"' {
			if c := body[i]; c < 0x20 || c > 0x7e || c == '\\' {
				return nil, false
			}
			i++
		}
		if i == len(body) {
			return nil, false
		}
		out = append(out, body[1:i])
		body = body[i+1:]
		if body == "" {
			return out, true
		}
		if body[0] != ',' {
			return nil, false
		}
		body = body[1:]
	}
}
