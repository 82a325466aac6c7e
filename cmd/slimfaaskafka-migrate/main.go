// Command slimfaaskafka-migrate prints the otelcol-kafkawake configuration
// equivalent to a SlimFaasKafka deployment's environment variables.
//
//	slimfaaskafka-migrate                          # reads the process environment
//	slimfaaskafka-migrate -env-file slimfaaskafka.env
//	kubectl exec deploy/slimfaas-kafka -- env | slimfaaskafka-migrate -env-file -
//
// The configuration goes to stdout; warnings about settings that cannot be
// carried over exactly go to stderr. It exits with 1 when a setting is
// missing or invalid, naming the variable.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}

func run(args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("slimfaaskafka-migrate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	envFile := flags.String("env-file", "", "read KEY=VALUE lines from this file (- for stdin) instead of the process environment")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: slimfaaskafka-migrate [-env-file path] > config.yaml")
		fmt.Fprintln(stderr, "Prints the otelcol-kafkawake configuration equivalent to SlimFaasKafka's environment variables.")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() > 0 {
		flags.Usage()
		return 2
	}

	env, err := loadEnv(*envFile, environ, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	cfg, warnings, err := convert(env)
	for _, warning := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", warning)
	}
	if err != nil {
		for line := range strings.Lines(err.Error()) {
			fmt.Fprintf(stderr, "error: %s\n", strings.TrimSuffix(line, "\n"))
		}
		return 1
	}
	if _, err := stdout.Write(cfg.YAML()); err != nil {
		fmt.Fprintf(stderr, "error: writing the configuration: %v\n", err)
		return 1
	}
	return 0
}

// loadEnv reads the variables from path, from stdin when path is -, or from
// environ when path is empty.
func loadEnv(path string, environ []string, stdin io.Reader) (map[string]string, error) {
	switch path {
	case "":
		env := make(map[string]string, len(environ))
		for _, entry := range environ {
			if name, value, ok := strings.Cut(entry, "="); ok && name != "" {
				env[name] = value
			}
		}
		return env, nil
	case "-":
		env, err := parseEnvFile(stdin)
		if err != nil {
			return nil, fmt.Errorf("stdin: %w", err)
		}
		return env, nil
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	env, err := parseEnvFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return env, nil
}
