package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// parseEnvFile reads KEY=VALUE lines as found in a .env file, in the output
// of `env`, or in a docker-compose `environment:` list (`- KEY=VALUE`).
// Blank lines, # comments and the `environment:` line itself are skipped, a leading `export ` is dropped, and
// one pair of quotes around a value or a list item is removed. A later line
// for the same KEY replaces an earlier one, as with `docker run --env-file`.
func parseEnvFile(r io.Reader) (map[string]string, error) {
	env := map[string]string{}
	scanner := bufio.NewScanner(r)
	for lineNumber := 1; scanner.Scan(); lineNumber++ {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") || line == "environment:" {
			continue
		}
		if item, ok := strings.CutPrefix(line, "- "); ok {
			line = unquote(strings.TrimSpace(item))
		}
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			line = strings.TrimSpace(rest)
		}
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("line %d: %q is not KEY=VALUE", lineNumber, line)
		}
		env[name] = unquote(strings.TrimSpace(value))
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	return env, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}
