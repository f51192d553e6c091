// Prints what the Go runtime sized itself to: GOMAXPROCS (from Go 1.25 on, the CPU quota of the
// program's cgroup rounded up, at least 2, at most the CPU count) and NumCPU (the affinity mask's
// count). tests/integration/quota.sh runs it natively in a cgroup with a quota and under --strict on
// machines with a quota: Go reads the cgroup files and the mask with system calls of its own, never
// through libc, so only strict mode's supervisor can show it the machine.
package main

import (
	"os"
	"runtime"
	"strconv"
)

func main() {
	os.Stdout.WriteString(strconv.Itoa(runtime.GOMAXPROCS(0)) + " " + strconv.Itoa(runtime.NumCPU()) + "\n")
}
