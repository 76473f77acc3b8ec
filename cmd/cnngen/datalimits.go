package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cnngen/cnngen/runtime"
)

// The environment variables that raise (or lower) the limits on a -data
// file: its text after decompression, its rows, and the memory its samples
// take (see runtime.DataLimits for the defaults: 2 GiB, 5 million, 1 GiB).
const (
	envMaxBytes  = "CNNGEN_DATA_MAX_BYTES"
	envMaxRows   = "CNNGEN_DATA_MAX_ROWS"
	envMaxMemory = "CNNGEN_DATA_MAX_MEMORY"
)

// dataLimits returns the limits on a -data file: runtime's defaults, or
// what the environment sets. A size is a decimal number of bytes with an
// optional unit (KiB, MiB, GiB, TiB, or K, M, G, T for the same), a row
// count a decimal number; "none" lifts a limit.
func dataLimits() (runtime.DataLimits, error) {
	var l runtime.DataLimits
	var err error
	if l.MaxBytes, err = envSize(envMaxBytes, true); err != nil {
		return l, err
	}
	rows, err := envSize(envMaxRows, false)
	if err != nil {
		return l, err
	}
	if rows > int64(int(^uint(0)>>1)) {
		rows = -1
	}
	l.MaxRows = int(rows)
	if l.MaxMemory, err = envSize(envMaxMemory, true); err != nil {
		return l, err
	}
	return l, nil
}

// envSize reads the environment variable name: 0 when unset, -1 for none,
// else a positive number, with a binary unit when bytes.
func envSize(name string, bytes bool) (int64, error) {
	s, ok := os.LookupEnv(name)
	if !ok || s == "" {
		return 0, nil
	}
	if s == "none" {
		return -1, nil
	}
	num, unit := s, int64(1)
	if bytes {
		for _, u := range []struct {
			suffix string
			size   int64
		}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}} {
			if strings.HasSuffix(s, u.suffix) {
				num, unit = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.size
				break
			}
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 1 || n > (1<<62)/unit || strings.HasPrefix(num, "+") || (len(num) > 1 && num[0] == '0') {
		want := "a positive decimal number of rows, or none"
		if bytes {
			want = "a positive decimal number of bytes, optionally with a unit (KiB, MiB, GiB, TiB), or none"
		}
		return 0, fmt.Errorf("%s=%s: want %s", name, strconv.Quote(s)[1:len(strconv.Quote(s))-1], want)
	}
	return n * unit, nil
}

// dataLimitHint adds to an error about a data file over one of its limits
// how to raise it.
func dataLimitHint(err error) error {
	var le *runtime.DataLimitError
	if !errors.As(err, &le) {
		return err
	}
	env := map[runtime.DataLimit]string{runtime.LimitBytes: envMaxBytes, runtime.LimitRows: envMaxRows, runtime.LimitMemory: envMaxMemory}[le.Limit]
	return fmt.Errorf("%w (set %s to raise it)", err, env)
}
