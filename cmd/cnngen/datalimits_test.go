package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDataLimitsCLI trains on a gzip file whose rows exceed limits lowered
// through the environment: one line naming the file, the line and the
// variable that raises the limit. A bad value in a variable is an error too.
func TestDataLimitsCLI(t *testing.T) {
	dir := t.TempDir()
	row := strings.Repeat("1,", 64) + "3\n"
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(strings.Repeat(row, 300)))
	zw.Close()
	data := filepath.Join(dir, "rows.csv.gz")
	if err := os.WriteFile(data, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env, value string
		want       string
	}{
		{envMaxRows, "200", "cnngen: " + data + ":201: more than 200 samples: over the limit on rows (set CNNGEN_DATA_MAX_ROWS to raise it)\n"},
		{envMaxBytes, "10KiB", "cnngen: " + data + ":79: more than 10 KiB of text (after decompression): over the limit on size (set CNNGEN_DATA_MAX_BYTES to raise it)\n"},
		{envMaxMemory, "26000", "cnngen: " + data + ":101: 101 samples of 64 values and a label take more than 26000 bytes: over the limit on memory (set CNNGEN_DATA_MAX_MEMORY to raise it)\n"},
		{envMaxRows, "0x10", "cnngen: CNNGEN_DATA_MAX_ROWS=0x10: want a positive decimal number of rows, or none\n"},
		{envMaxMemory, "1.5GiB", "cnngen: CNNGEN_DATA_MAX_MEMORY=1.5GiB: want a positive decimal number of bytes, optionally with a unit (KiB, MiB, GiB, TiB), or none\n"},
	} {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			code, _, stderr := runCLI("train", "-steps", "1", "-data", data)
			if code != 1 || stderr != tc.want {
				t.Errorf("exit %d, stderr %q\nwant exit 1, stderr %q", code, stderr, tc.want)
			}
		})
	}
	t.Setenv(envMaxRows, "none")
	if code, _, stderr := runCLI("train", "-steps", "1", "-workers", "1", "-data", data); code != 0 {
		t.Errorf("%s=none: exit %d, stderr:\n%s", envMaxRows, code, stderr)
	}
}
