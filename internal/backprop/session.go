package backprop

import (
	tf "github.com/tensorflow/tensorflow/tensorflow/go"
	corepb "github.com/tensorflow/tensorflow/tensorflow/go/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"
)

// session serialises the options into the ConfigProto that the C API takes.
func (o Options) session() (*tf.SessionOptions, error) {
	cfg := &corepb.ConfigProto{
		IntraOpParallelismThreads: int32(o.IntraOpThreads),
		InterOpParallelismThreads: int32(o.InterOpThreads),
	}
	// float32 turns Grappler off for the session's own graphs. Those are the
	// variable restore and a call of each signature's function; the function
	// runtime still optimises every function body (fused convolutions and
	// all) from the config its call carries. Measured here (issue 15, Xception,
	// 16 images): model load 2.0-2.5 s -> 1.0-1.3 s, peak RSS 70-130 MB lower,
	// the same compute rate at K = 1 and K = 5 (--profile's "the rest").
	// bfloat16 needs Grappler at the session level: its mixed-precision pass
	// rewrites the graph after the function is inlined into it.
	if o.BFloat16 {
		cfg.GraphOptions = &corepb.GraphOptions{RewriteOptions: &corepb.RewriterConfig{
			AutoMixedPrecisionOnednnBfloat16: corepb.RewriterConfig_ON,
		}}
	} else {
		cfg.GraphOptions = &corepb.GraphOptions{RewriteOptions: &corepb.RewriterConfig{
			DisableMetaOptimizer: true,
		}}
	}
	b, err := proto.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return &tf.SessionOptions{Config: b}, nil
}
