package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/cnngen/cnngen/runtime"
)

// command is one cnngen subcommand. Each lives in its own file and registers
// itself in commands from an init function.
type command struct {
	name    string
	summary string // one line for the usage listing
	// run executes the command with its arguments (after the command name),
	// writing results to stdout. A usageError makes main print the command's
	// usage and exit 2; any other error is printed and exits 1.
	run func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// usageError marks a bad command line (as opposed to bad input).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// isaError is runtime.ISAError, replaceable in tests.
var isaError = runtime.ISAError

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "cnngen: unknown command %q\n", args[0])
		printUsage(stderr)
		return 2
	}
	// CNNGEN_ISA names a path the user wants: running another one instead
	// would hide that the request failed.
	if err := isaError(); err != nil {
		fmt.Fprintf(stderr, "cnngen: %v\n", err)
		return 1
	}
	err := c.run(args[1:], stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintf(stderr, "cnngen %s: %s\n", c.name, ue.msg)
		}
		fmt.Fprintf(stderr, "run 'cnngen %s -h' for usage\n", c.name)
		return 2
	default:
		fmt.Fprintf(stderr, "cnngen: %v\n", err)
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: cnngen <command> [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}

// newFlagSet returns a flag set for a command that reports errors instead of
// exiting, with usage text going to stderr.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("cnngen "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: cnngen %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning flag errors into usage errors (the flag
// package has already printed the message and usage).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{}
	}
	return nil
}

// reportWrote tells on stderr that a command wrote the file at path, and
// what it holds unless what is empty:
//
//	cnngen: wrote curve.png (learning curve, 2000 steps)
func reportWrote(stderr io.Writer, path, what string) {
	if what == "" {
		fmt.Fprintf(stderr, "cnngen: wrote %s\n", path)
		return
	}
	fmt.Fprintf(stderr, "cnngen: wrote %s (%s)\n", path, what)
}
