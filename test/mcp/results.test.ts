// How tool outcomes are shaped: core's progress events as notifications/progress (only with a token, growing only,
// at most one per percent of a transfer), and thrown errors as tool errors worded like the CLI's.
import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../../src/lib/errors.js';
import { progressNotifications, toolError, type ToolExtra } from '../../src/mcp/results.js';

type Sent = { progress: number; total?: number; message?: string };

function extraWith(progressToken: string | undefined, sent: Sent[]): ToolExtra {
  return {
    _meta: progressToken === undefined ? undefined : { progressToken },
    sendNotification: async (notification: { params: Sent & { progressToken: string } }) => {
      expect(notification.params.progressToken).toBe(progressToken);
      // Written a turn of the event loop later, as a pipe may: the order must still hold.
      await new Promise((resolve) => setImmediate(resolve));
      const { progressToken: _token, ...rest } = notification.params;
      sent.push(rest);
    },
  } as unknown as ToolExtra;
}

describe('progress notifications', () => {
  it('send nothing when the client gave no progress token', async () => {
    const sent: Sent[] = [];
    const sink = progressNotifications(extraWith(undefined, sent));
    const task = sink.begin('pulling', 100);
    task.advance(100);
    task.end();
    await sink.sent();
    expect(sent).toEqual([]);
  });

  it('report a transfer at its start, at most once per percent, and at its end, in order, never going back', async () => {
    const sent: Sent[] = [];
    const sink = progressNotifications(extraWith('t', sent));
    const task = sink.begin('pulling team/tiny', 10_000);
    for (let i = 0; i < 1000; i++) task.advance(10);
    task.update!(5_000); // a resumed task's absolute count, lower than what was sent: ignored
    task.end();
    sink.note('writing manifest');
    await sink.sent();
    expect(sent[0]).toEqual({ progress: 0, total: 10_000, message: 'pulling team/tiny' });
    expect(sent.length).toBeLessThanOrEqual(1 + 100 + 2);
    expect(sent.length).toBeGreaterThan(50);
    const values = sent.map((s) => s.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(sent.at(-2)).toEqual({ progress: 10_000, total: 10_000, message: 'pulling team/tiny: done' });
    expect(sent.at(-1)).toEqual({ progress: 10_000, total: 10_000, message: 'writing manifest' });
  });

  it('count a resumed task from where it starts', async () => {
    const sent: Sent[] = [];
    const sink = progressNotifications(extraWith('t', sent));
    const task = sink.begin('pulling', 1000);
    task.update!(600);
    task.advance(400);
    await sink.sent();
    expect(sent.map((s) => s.progress)).toEqual([0, 600, 1000]);
  });
});

describe('tool errors', () => {
  it('word an aim error as the CLI does, with its exit code', () => {
    const result = toolError(new NotFoundError('model x not found in repository team', { hint: 'aim model list team' }));
    expect(result).toEqual({
      isError: true,
      content: [{ type: 'text', text: 'aim: error: model x not found in repository team\n  hint: aim model list team' }],
      structuredContent: { error: { code: 3, message: 'model x not found in repository team', hint: 'aim model list team' } },
    });
  });

  it('word a file system error plainly, naming the file', () => {
    const error = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', path: '/srv/models/x' });
    const result = toolError(error);
    expect(result.isError).toBe(true);
    expect((result.content[0] as { text: string }).text).toMatch(/^aim: error: .*\/srv\/models\/x/);
    expect((result.structuredContent as { error: { code: number } }).error.code).not.toBe(70);
  });
});
