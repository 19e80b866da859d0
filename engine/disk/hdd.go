package disk

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// HDDModel is the latency of a single-actuator hard disk, for Faulty. An IO
// costs
//
//	seek + rotation + transfer
//
// where, with d the distance in bytes from the end of the previous IO to the
// start of this one:
//
//   - seek is 0 when d is 0 (the head is already there), otherwise
//     SeekSettle + (SeekFull-SeekSettle)*sqrt(d/SeekFullBytes), at most
//     SeekFull. The square root is the usual fit: a short seek is dominated
//     by acceleration, a long one by coasting at top speed.
//   - rotation is 0 when d is 0 (the sector is passing under the head),
//     otherwise half a rotation (the average wait), or, with RotationRandom,
//     a uniform draw in [0, one rotation) from Faulty's rng.
//   - transfer is the IO's length divided by Bandwidth.
//
// A Flush costs FlushTime and does not move the head. Reads and writes are
// treated alike and nothing is cached: the model is for comparing the order
// and size of IOs (sequential against random, merged against split, batched
// against individual flushes), not for predicting a particular drive.
//
// The zero value is valid: every zero field takes its default, which
// resembles a 7200 rpm 3.5" SATA drive.
type HDDModel struct {
	// RPM is the spindle speed. Default 7200 (a rotation in 8.33ms).
	RPM float64
	// SeekSettle is the seek time over the shortest distance (track to
	// track, mostly head settling). Default 1ms.
	SeekSettle time.Duration
	// SeekFull is the full-stroke seek time, the longest seek. Default 16ms.
	SeekFull time.Duration
	// SeekFullBytes is the distance, in bytes, of a full stroke. Default:
	// the device size.
	SeekFullBytes int64
	// Bandwidth is the media transfer rate in bytes per second. Default
	// 160e6 (160 MB/s).
	Bandwidth float64
	// RotationRandom draws the rotational delay of a non-sequential IO
	// uniformly from [0, one rotation) with Faulty's rng, instead of
	// charging the average, half a rotation. Either way a seed gives the
	// same times.
	RotationRandom bool
	// FlushTime is the cost of a Flush: draining the drive's write cache.
	// Default one rotation (8.33ms at 7200 rpm).
	FlushTime time.Duration
}

// Defaults of HDDModel.
const (
	HDDRPMDefault        = 7200
	HDDSeekSettleDefault = time.Millisecond
	HDDSeekFullDefault   = 16 * time.Millisecond
	HDDBandwidthDefault  = 160e6
)

// EnsureDefaults fills every zero field with its default; deviceSize is the
// default of SeekFullBytes.
func (h *HDDModel) EnsureDefaults(deviceSize int64) {
	if h.RPM == 0 {
		h.RPM = HDDRPMDefault
	}
	if h.SeekSettle == 0 {
		h.SeekSettle = HDDSeekSettleDefault
	}
	if h.SeekFull == 0 {
		h.SeekFull = HDDSeekFullDefault
	}
	if h.SeekFullBytes == 0 {
		h.SeekFullBytes = max(deviceSize, 1)
	}
	if h.Bandwidth == 0 {
		h.Bandwidth = HDDBandwidthDefault
	}
	if h.FlushTime == 0 {
		h.FlushTime = h.Rotation()
	}
}

// Validate reports every invalid field, joined.
func (h *HDDModel) Validate() error {
	var errs []error
	if h.RPM < 0 || math.IsNaN(h.RPM) || math.IsInf(h.RPM, 0) {
		errs = append(errs, fmt.Errorf("disk: HDDModel.RPM %v: must be positive", h.RPM))
	}
	if h.SeekSettle < 0 {
		errs = append(errs, fmt.Errorf("disk: HDDModel.SeekSettle %v: must not be negative", h.SeekSettle))
	}
	if h.SeekFull < 0 {
		errs = append(errs, fmt.Errorf("disk: HDDModel.SeekFull %v: must not be negative", h.SeekFull))
	}
	if h.SeekFull != 0 && h.SeekFull < h.SeekSettle {
		errs = append(errs, fmt.Errorf("disk: HDDModel.SeekFull %v is shorter than SeekSettle %v", h.SeekFull, h.SeekSettle))
	}
	if h.SeekFullBytes < 0 {
		errs = append(errs, fmt.Errorf("disk: HDDModel.SeekFullBytes %d: must not be negative", h.SeekFullBytes))
	}
	if h.Bandwidth < 0 || math.IsNaN(h.Bandwidth) || math.IsInf(h.Bandwidth, 0) {
		errs = append(errs, fmt.Errorf("disk: HDDModel.Bandwidth %v: must be positive", h.Bandwidth))
	}
	if h.FlushTime < 0 {
		errs = append(errs, fmt.Errorf("disk: HDDModel.FlushTime %v: must not be negative", h.FlushTime))
	}
	return errors.Join(errs...)
}

// Rotation is the time of one revolution.
func (h *HDDModel) Rotation() time.Duration {
	rpm := h.RPM
	if rpm == 0 {
		rpm = HDDRPMDefault
	}
	return time.Duration(60 / rpm * float64(time.Second))
}

// SeekTime is the seek time over distance bytes.
func (h *HDDModel) SeekTime(distance int64) time.Duration {
	if distance < 0 {
		distance = -distance
	}
	if distance == 0 {
		return 0
	}
	frac := math.Sqrt(float64(distance) / float64(h.SeekFullBytes))
	t := h.SeekSettle + time.Duration(frac*float64(h.SeekFull-h.SeekSettle))
	return min(t, h.SeekFull)
}

// cost is the modeled time of an IO of n bytes starting distance bytes from
// the head. The model must have its defaults.
func (h *HDDModel) cost(distance int64, n int, rng *rand.Rand) time.Duration {
	t := time.Duration(float64(n) / h.Bandwidth * float64(time.Second))
	if distance == 0 {
		return t
	}
	t += h.SeekTime(distance)
	if h.RotationRandom {
		t += time.Duration(rng.Int64N(int64(h.Rotation())))
	} else {
		t += h.Rotation() / 2
	}
	return t
}
