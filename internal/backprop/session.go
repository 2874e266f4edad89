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
	b, err := proto.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return &tf.SessionOptions{Config: b}, nil
}
