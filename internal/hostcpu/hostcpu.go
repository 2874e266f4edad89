// Package hostcpu says what this machine's processor can do where a choice of
// the tool depends on it: native bfloat16 arithmetic, for --precision bfloat16.
package hostcpu

import (
	"os"
	"slices"
	"strings"
)

// BFloat16 reports whether the CPU computes bfloat16 natively, with the
// instructions oneDNN's bfloat16 kernels use (AVX512-BF16 or AMX-BF16), and
// names the CPU, from /proc/cpuinfo. Elsewhere TensorFlow emulates bfloat16,
// which is slower than float32.
func BFloat16() (native bool, model string) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false, "unknown (no /proc/cpuinfo)"
	}
	return parseBFloat16(string(b))
}

// parseBFloat16 is BFloat16 on the text of a /proc/cpuinfo; it reads the first
// processor's flags and model name (every core of a machine has the same).
func parseBFloat16(cpuinfo string) (native bool, model string) {
	var flags []string
	seen := false
	for line := range strings.Lines(cpuinfo) {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "flags":
			if !seen {
				flags, seen = strings.Fields(value), true
			}
		case "model name":
			if model == "" {
				model = strings.TrimSpace(value)
			}
		}
	}
	if model == "" {
		model = "unknown model"
	}
	return slices.Contains(flags, "avx512_bf16") || slices.Contains(flags, "amx_bf16"), model
}
