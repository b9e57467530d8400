// Core reports progress as events and never touches the terminal; commands decide how to show them (bars on a
// TTY, plain lines otherwise, nothing with --json or --quiet).

export interface ProgressTask {
  /** `bytes` more of the total are done. */
  advance(bytes: number): void;
  /** Sets the absolute amount done (resumed work starts part-way). */
  update?(done: number): void;
  end(): void;
}

export interface ProgressSink {
  begin(label: string, totalBytes: number): ProgressTask;
  /** A one-line status message ("writing manifest", "skipped 3 unchanged files"). */
  note(message: string): void;
}

const idleTask: ProgressTask = { advance() {}, end() {} };

export const silentProgress: ProgressSink = {
  begin: () => idleTask,
  note() {},
};
