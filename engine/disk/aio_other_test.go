//go:build !linux

package disk

const aioDepthForTest = 64
