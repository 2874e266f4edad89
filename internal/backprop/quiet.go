package backprop

// TensorFlow's C++ logging reads TF_CPP_MIN_LOG_LEVEL once, at its first message,
// and the library logs that message ("oneDNN custom operations are on") from a
// static initialiser, before any Go code runs; setting the variable from Go is too
// late, and so is setenv from any initialiser (libc re-reads the environment from
// the kernel's copy when it initialises). An executable's .preinit_array runs
// before every library initialiser, so the process re-executes itself from there,
// once, with the variable in its environment: the dynamic loader has mapped the
// libraries by then (about 10 ms) but TensorFlow has run none of its code. INFO and
// WARNING lines stay off the user's stderr; errors still show. A value the user
// set is kept, so TF_CPP_MIN_LOG_LEVEL=0 brings all of TensorFlow's logs back.
//
// Why here and not in cmd/saliency: the noise comes with linking TensorFlow,
// which only this package does, so every binary that links it (the CLI and the
// Go test binaries of the packages that load models) is quieted the same way,
// and cmd/saliency keeps no C code. The re-exec happens before main; a program
// that links this package and must not be re-executed sets the variable itself.

/*
#include <string.h>
#include <unistd.h>

static void saliency_quiet_tensorflow(int argc, char **argv, char **envp) {
	static char level[] = "TF_CPP_MIN_LOG_LEVEL=2";
	size_t n = 0;
	for (; envp[n] != NULL; n++) {
		if (strncmp(envp[n], level, sizeof "TF_CPP_MIN_LOG_LEVEL=" - 1) == 0) {
			return;
		}
	}
	char *env[n + 2];
	memcpy(env, envp, n * sizeof env[0]);
	env[n] = level;
	env[n + 1] = NULL;
	execve("/proc/self/exe", argv, env);
	// If the exec fails the program still works, only noisier.
}

__attribute__((section(".preinit_array"), used))
static void (*saliency_preinit)(int, char **, char **) = saliency_quiet_tensorflow;
*/
import "C"
