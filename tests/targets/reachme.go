// reachme.go: reachme in Go, for the reach test of a real Go program
// (tests/integration/reach.c); built only where `go` is installed.
package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	word, status := "", 0
	if len(os.Args) > 1 {
		word = os.Args[1]
	}
	if len(os.Args) > 2 {
		status, _ = strconv.Atoi(os.Args[2])
	}
	fmt.Printf("reachme: %s\n", word)
	os.Exit(status)
}
