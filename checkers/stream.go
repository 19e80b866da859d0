package checkers

// StreamSeed is the seed of the random stream a checker's run draws its
// cases from: the run's seed mixed with the checker's name and mode, so
// that conformance, crash block mode and crash kill mode at one --seed
// explore different cases instead of the same op sequences. It is a pure
// function of its arguments, so a run on the same seed (and the replay
// command it prints) reproduces exactly; Result.Seed and trace headers
// keep the seed as the user gave it.
func StreamSeed(checker, mode string, seed uint64) uint64 {
	// FNV-1a of "checker/mode", then one SplitMix64 finalizer over the
	// seed and that hash: neighbouring seeds and names give unrelated
	// streams.
	h := uint64(0xcbf29ce484222325)
	for _, s := range []string{checker, "/", mode} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 0x100000001b3
		}
	}
	x := seed ^ h
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
