package hostcpu

import "testing"

func TestParseBFloat16(t *testing.T) {
	const epyc = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7763 64-Core Processor\n" +
		"flags\t\t: fpu vme avx2 fma avx512f\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7763 64-Core Processor\nflags\t\t: fpu vme avx2 fma avx512f\n"
	const sapphire = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile\n"
	const zen4 = "model name\t: AMD EPYC 9654\nflags\t\t: avx2 avx512f avx512_bf16\n"
	const amxOnly = "model name\t: x\nflags\t\t: avx2 amx_bf16\n"
	const bf16Prefix = "model name\t: y\nflags\t\t: avx2 avx512_bf16x avx512_bf\n" // near misses are not flags
	for _, c := range []struct {
		name, cpuinfo, model string
		want                 bool
	}{
		{"avx2 only", epyc, "AMD EPYC 7763 64-Core Processor", false},
		{"avx512_bf16 and amx", sapphire, "Intel(R) Xeon(R) Platinum 8480+", true},
		{"avx512_bf16", zen4, "AMD EPYC 9654", true},
		{"amx_bf16", amxOnly, "x", true},
		{"near misses", bf16Prefix, "y", false},
		{"empty", "", "unknown model", false},
	} {
		native, model := parseBFloat16(c.cpuinfo)
		if native != c.want || model != c.model {
			t.Errorf("%s: %v, %q; want %v, %q", c.name, native, model, c.want, c.model)
		}
	}
}
