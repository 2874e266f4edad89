// Command saliency explains an image classifier's predictions with gradient
// saliency maps computed by the TensorFlow runtime.
package main

import "os"

func main() {
	os.Exit(Main(os.Args[1:], DefaultIO()))
}
