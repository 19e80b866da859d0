package crash

// DDMin returns a 1-minimal subsequence of items for which fails holds
// (Zeller and Hildebrandt's delta debugging): removing any single item of
// the result makes fails false. fails(items) must hold. It is
// deterministic: the same items and the same fails give the same result.
// It stops early, returning the smallest failing sequence so far, once fails
// has been called limit times (limit <= 0: no limit).
func DDMin[T any](items []T, fails func([]T) bool, limit int) []T {
	calls := 0
	test := func(c []T) bool {
		if limit > 0 && calls >= limit {
			return false
		}
		calls++
		return fails(c)
	}
	n := 2
	for len(items) >= 2 {
		chunks := split(items, n)
		reduced := false
		for _, c := range chunks { // try each subset
			if len(c) < len(items) && test(c) {
				items, n, reduced = c, 2, true
				break
			}
		}
		if !reduced && n > 2 {
			for i := range chunks { // try each complement
				c := complement(chunks, i)
				if test(c) {
					items, n, reduced = c, max(n-1, 2), true
					break
				}
			}
		}
		if !reduced {
			if n >= len(items) || limit > 0 && calls >= limit {
				break
			}
			n = min(2*n, len(items))
		}
	}
	if len(items) == 1 && test(nil) {
		return nil
	}
	return items
}

// split cuts items into n nearly equal chunks.
func split[T any](items []T, n int) [][]T {
	var out [][]T
	start := 0
	for i := range n {
		end := start + (len(items)-start)/(n-i)
		out = append(out, items[start:end:end])
		start = end
	}
	return out
}

func complement[T any](chunks [][]T, skip int) []T {
	var out []T
	for i, c := range chunks {
		if i != skip {
			out = append(out, c...)
		}
	}
	return out
}
