// Where the walnats CLI writes: a seam for embedding it and for tests.

/** Where the CLI writes. */
export interface CliOutput {
  /** Normal output (one line per call, no line feed). */
  out(line: string): void;
  /** Errors, warnings, summaries (one line per call). */
  err(line: string): void;
  /**
   * Redraw one status line in place (stderr on a terminal). Absent when
   * stderr is not a terminal: progress is then written as plain lines.
   */
  progress?(line: string): void;
  /** Whether stdout is a terminal (tables are redrawn in place with --watch). */
  tty?: boolean;
}
