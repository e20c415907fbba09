package main

import (
	"cmp"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// version and commit are set at build time (make build: -ldflags
// "-X main.version=… -X main.commit=…"); otherwise they come from the
// build information, when the build stamped it.
var version, commit = "", ""

// configTable is the configuration table, in Markdown: --help prints it,
// and the README holds the same (TestREADMEConfigTable), so that the two
// cannot drift.
func configTable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, s := range (&config{}).settings() {
		def := ""
		if s.def != "" {
			def = " `" + s.def + "`"
		}
		fmt.Fprintf(&b, "| `%s` |%s | %s |\n", s.env, def, s.help)
	}
	return b.String()
}

// printHelp writes --help's text.
func printHelp(w io.Writer) {
	fmt.Fprintf(w, `Usage: globalchat [-flag value ...] [-version]

The global chat server. Every setting is an environment variable; a flag of
the same name in lower case with - for _ overrides it (PORT=3001 or
-port 3001). -version prints the version and commit.

%s`, configTable())
}

// versionString is the version, the commit it was built from (with
// "-dirty" when the tree had changes) and its time, and the Go release.
func versionString() string {
	v, rev, at, dirty := version, commit, "", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = cmp.Or(rev, s.Value)
			case "vcs.time":
				at = ", " + s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
	}
	v, rev = cmp.Or(v, "(devel)"), cmp.Or(rev, "unknown")
	return fmt.Sprintf("globalchat %s (commit %s%s%s, %s)", v, rev, dirty, at, runtime.Version())
}
