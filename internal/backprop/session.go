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
	// GraphOptions only when asked for: merely setting an all-default
	// RewriterConfig made an early form of the five-unit gradients signature
	// 1.6x slower here (issue 15), so float32 runs keep the session defaults.
	if o.BFloat16 {
		cfg.GraphOptions = &corepb.GraphOptions{RewriteOptions: &corepb.RewriterConfig{
			AutoMixedPrecisionOnednnBfloat16: corepb.RewriterConfig_ON,
		}}
	}
	b, err := proto.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return &tf.SessionOptions{Config: b}, nil
}
