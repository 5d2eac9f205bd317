// Remote commands as data, the Kamal way: every builder in deploy/ssh/commands/
// returns a Command instead of running it, and the CLI decides whether to print it
// (--plan) or run it over SSH. Tests assert the data, and the plan is exactly the
// list of commands a deploy would run.

/** A word the shell must see as it is: an operator (&&, |, >) or an expansion ($(...)). */
export interface Raw {
  readonly raw: string;
}
export type Word = string | Raw;

export const raw = (text: string): Raw => ({ raw: text });

/** What a command reads on its standard input: never part of the command line, so never in a log or `ps`. */
export type Stdin =
  | { readonly source: 'text'; readonly text: string; readonly secret?: boolean }
  | { readonly source: 'file'; readonly path: string; readonly secret?: boolean };

export interface Command {
  readonly argv: readonly Word[];
  /** What the command is for, in a few words: shown by --plan and in errors. */
  readonly summary: string;
  /** `read` commands only look (they may run in any order and any number of times); `change` commands alter the host. */
  readonly effect: 'read' | 'change';
  readonly stdin?: Stdin;
  /** Exit codes that mean success; default [0]. */
  readonly okCodes?: readonly number[];
}

/**
 * An idempotent step: `check` exits 0 when the host is already as wanted and 1 when
 * it is not (any other code is an error); `apply` is run only in the second case.
 */
export interface Ensure {
  readonly name: string;
  readonly check: Command;
  readonly apply: readonly Command[];
  /** Open a new SSH connection after applying (group membership is read at login). */
  readonly reconnect?: boolean;
}

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes a word for a POSIX shell; words made only of safe characters stay readable. */
export function quote(word: string): string {
  if (word !== '' && SAFE_WORD.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

export function renderWords(words: readonly Word[]): string {
  return words.map((w) => (typeof w === 'string' ? quote(w) : w.raw)).join(' ');
}

/** The command line sent to the remote shell. */
export function render(command: Command): string {
  return renderWords(command.argv);
}

export function read(summary: string, argv: readonly Word[], extra: Partial<Command> = {}): Command {
  return { summary, argv, effect: 'read', ...extra };
}

export function change(summary: string, argv: readonly Word[], extra: Partial<Command> = {}): Command {
  return { summary, argv, effect: 'change', ...extra };
}

const AND = raw('&&');
const OR = raw('||');

/** a && b && c, as one word list. */
export function and(...parts: readonly (readonly Word[])[]): Word[] {
  return parts.flatMap((part, i) => (i === 0 ? [...part] : [AND, ...part]));
}

/** a || b, as one word list. */
export function or(...parts: readonly (readonly Word[])[]): Word[] {
  return parts.flatMap((part, i) => (i === 0 ? [...part] : [OR, ...part]));
}

/** { a; } grouping, so `and`/`or` chains compose without surprises. */
export function group(words: readonly Word[]): Word[] {
  return [raw('{'), ...words, raw(';'), raw('}')];
}

/**
 * Runs words as root with sudo (-n: a password prompt fails instead of hanging). A
 * simple command runs as it is; one with shell operators goes through `sh -c`, or
 * sudo would apply to its first part only.
 */
export function asRoot(words: readonly Word[], sudo: boolean): Word[] {
  if (!sudo) return [...words];
  return words.every((w) => typeof w === 'string') ? ['sudo', '-n', ...words] : ['sudo', '-n', 'sh', '-c', renderWords(words)];
}

/** A command with the same data but run as root. */
export function rootCommand(command: Command, sudo: boolean): Command {
  return { ...command, argv: asRoot(command.argv, sudo) };
}

/** One line per command, for --plan and logs; stdin is described, a secret's content never shown. */
export function describe(command: Command): string {
  const stdin = command.stdin
    ? command.stdin.source === 'file'
      ? `  < ${command.stdin.secret ? 'secret ' : ''}local file ${command.stdin.path}`
      : command.stdin.secret
        ? '  < (secret text, not shown)'
        : `  < ${JSON.stringify(command.stdin.text.length > 200 ? `${command.stdin.text.slice(0, 200)}…` : command.stdin.text)}`
    : '';
  return `${render(command)}${stdin}`;
}
