package backprop

import (
	"testing"

	corepb "github.com/tensorflow/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// The ConfigProto the C API gets: threads as given; bfloat16 turns on oneDNN's
// automatic mixed precision and nothing else; float32 sets no GraphOptions.
func TestSessionConfig(t *testing.T) {
	for _, o := range []Options{{}, {IntraOpThreads: 2, InterOpThreads: 1}, {BFloat16: true}} {
		so, err := o.session()
		if err != nil {
			t.Fatal(err)
		}
		var cfg corepb.ConfigProto
		if err := proto.Unmarshal(so.Config, &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.IntraOpParallelismThreads != int32(o.IntraOpThreads) || cfg.InterOpParallelismThreads != int32(o.InterOpThreads) {
			t.Errorf("%+v: threads %d/%d", o, cfg.IntraOpParallelismThreads, cfg.InterOpParallelismThreads)
		}
		rw := cfg.GetGraphOptions().GetRewriteOptions()
		if !o.BFloat16 && !proto.Equal(rw, &corepb.RewriterConfig{DisableMetaOptimizer: true}) {
			t.Errorf("%+v: rewrite options %v; want only disable_meta_optimizer for float32", o, rw)
		}
		if o.BFloat16 && (rw.GetAutoMixedPrecisionOnednnBfloat16() != corepb.RewriterConfig_ON ||
			!proto.Equal(rw, &corepb.RewriterConfig{AutoMixedPrecisionOnednnBfloat16: corepb.RewriterConfig_ON})) {
			t.Errorf("%+v: rewrite options %v; want only auto_mixed_precision_onednn_bfloat16 ON", o, rw)
		}
	}
}
