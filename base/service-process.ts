// Runs one service (ingester, writer, api, replay) as a child process: its own
// pid, so tests can SIGKILL it and `npm start` can stop it in order. Output lines
// are kept and can be awaited, and optionally echoed with the service's name.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './paths.ts';

export interface ServiceProcessOptions {
  name: string;
  /** Script path relative to the repository root, run with tsx. */
  script: string;
  args?: string[];
  env: Record<string, string | undefined>;
  /** Called with every output line (stdout and stderr). */
  onLine?: (line: string) => void;
  /**
   * Run in its own process group, so a terminal's Ctrl-C reaches only the
   * supervisor, which then stops the services in order.
   */
  detached?: boolean;
}

export class ServiceProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  constructor(readonly options: ServiceProcessOptions) {
    this.child = spawn(process.execPath, ['--import', 'tsx', options.script, ...(options.args ?? [])], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached ?? false,
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => this.onLine(line));
    }
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first line (already seen or future) that matches. */
  waitForLine(match: (line: string) => boolean, timeoutMs = 30_000): Promise<string> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`${this.options.name}: no matching output within ${timeoutMs} ms; last lines:\n${this.lines.slice(-15).join('\n')}`));
      }, timeoutMs);
      const done = (line: string) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiters.push({ match, resolve: done });
      void this.exited.then(({ code, signal }) => {
        if (this.waiters.some((w) => w.resolve === done)) {
          clearTimeout(timer);
          reject(new Error(`${this.options.name} exited (code ${code}, signal ${signal}) before the expected output; last lines:\n${this.lines.slice(-15).join('\n')}`));
        }
      });
    });
  }

  /** Waits for a JSON log line whose `msg` is `message`; returns the parsed line. */
  async waitForLog(message: string, timeoutMs?: number): Promise<Record<string, unknown>> {
    const line = await this.waitForLine((l) => l.includes(`"msg":${JSON.stringify(message)}`), timeoutMs);
    return JSON.parse(line) as Record<string, unknown>;
  }

  /** Sends a signal and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }

  private onLine(line: string): void {
    if (this.lines.length > 20_000) this.lines.splice(0, 10_000);
    this.lines.push(line);
    this.options.onLine?.(line);
    for (const waiter of this.waiters.filter((w) => w.match(line))) {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      waiter.resolve(line);
    }
  }
}
