// Command benchtool holds the parts of the tasksvc benchmark that are easier
// to get right in Go than in bash. bench/run.sh calls it; each subcommand
// prints its result as one line of key=value pairs for the script to read.
//
//	benchtool sql -src . -name listTasksSQL          print a SQL constant of the service
//	benchtool pgbench-scripts -src . -dir D          write the pgbench scripts (see sql.go)
//	benchtool seed -url U -out D                     seed tasks through the API
//	benchtool single -url U -stats S -endpoint E     sequential requests, latency and wire counts
//	benchtool startup -bin B                         start-up time to the first answered request
//	benchtool cpu -svc PID -db NAME                  CPU time by process group until SIGTERM
//
// It uses the standard library only.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool sql|pgbench-scripts|seed|single|startup|cpu [flags]")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"sql":             cmdSQL,
		"pgbench-scripts": cmdPgbenchScripts,
		"seed":            cmdSeed,
		"single":          cmdSingle,
		"startup":         cmdStartup,
		"cpu":             cmdCPU,
	}
	cmd, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "benchtool: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := cmd(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "benchtool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
