package main

import (
	"github.com/spf13/cobra"
)

var benchOpts benchOptions

var benchCmd = &cobra.Command{
	Use:   "bench",
	Short: "Measure download and sync speed against the raw SQLite ceiling",
	Long: `Measures, in one run on this machine:

  (a) the raw ceiling: the same rows (random GUID keys, the same ten columns)
      written into an empty table with the same SQLite driver and no engine,
      the fastest known way (plain inserts, then the unique key index);
  (b) an initial download of --records ten-field records from the mock
      backend through the plugin transport into a fresh device store, with
      the peak memory of the engine's process and of the plugin's;
  (c) an incremental sync of --changes server changes against that store.

It needs no configuration; its files go to a temporary directory (or --dir).`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		_, err := runBench(cmd.Context(), benchOpts, cmd.OutOrStdout())
		return err
	},
}

func init() {
	f := benchCmd.Flags()
	f.IntVar(&benchOpts.Records, "records", 1_000_000, "records of the large entity")
	f.IntVar(&benchOpts.Changes, "changes", 1_000, "server changes for the incremental sync")
	f.StringVar(&benchOpts.Dir, "dir", "", "directory for the files (default: a temporary one, removed after)")
	f.StringVar(&benchOpts.Plugin, "plugin", "subprocess", "how the mock is loaded for (b): subprocess or builtin")
	f.BoolVar(&benchOpts.Keep, "keep", false, "keep the temporary directory")
	root.AddCommand(benchCmd)
}
