package render_test

import (
	"fmt"

	"github.com/saliency-tool/saliency/internal/render"
)

func ExampleColormapNames() {
	fmt.Println(render.ColormapNames())
	// Output: [gray inferno jet viridis]
}
