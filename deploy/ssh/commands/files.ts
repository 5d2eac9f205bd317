// Files on the host, written atomically and only when their content or mode differs.
// The content travels on stdin, never on the command line, so secrets stay out of
// `ps`, shell history and --plan output.

import { posix } from 'node:path';
import { change, read, rootCommand, type Command, type Ensure } from '../command.ts';

/** $1 = path, $2 = mode (octal, as stat %a prints it). Succeeds when the file has exactly the stdin content and that mode. */
const FILE_MATCHES = 'test -f "$1" && test "$(stat -c %a "$1")" = "$2" && cmp -s - "$1"';
/** $1 = path, $2 = mode. Write stdin to a temporary file in the same directory, then rename: readers never see half a file. */
const ATOMIC_WRITE = 'set -e; umask 077; mkdir -p "$(dirname "$1")"; tmp="$1.tmp.$$"; cat > "$tmp"; chmod "$2" "$tmp"; mv -f "$tmp" "$1"';

export interface FileOptions {
  /** Octal mode as `stat -c %a` prints it: '600', '644'. */
  mode: string;
  /** Run as root through sudo. */
  sudo?: boolean;
  /** The content is a secret: --plan shows it as such. */
  secret?: boolean;
  /** Commands to run after the file changed (reload a service, validate a config). */
  afterChange?: readonly Command[];
  /** Step name; defaults to the path. */
  name?: string;
}

export function fileMatches(path: string, content: string | { localFile: string }, mode: string, options: { sudo?: boolean; secret?: boolean } = {}): Command {
  const stdin = typeof content === 'string' ? { source: 'text' as const, text: content, secret: options.secret } : { source: 'file' as const, path: content.localFile, secret: options.secret };
  return rootCommand(read(`is ${path} up to date (mode ${mode})`, ['sh', '-c', FILE_MATCHES, 'sh', path, mode], { stdin }), options.sudo ?? false);
}

export function writeFile(path: string, content: string | { localFile: string }, mode: string, options: { sudo?: boolean; secret?: boolean } = {}): Command {
  const stdin = typeof content === 'string' ? { source: 'text' as const, text: content, secret: options.secret } : { source: 'file' as const, path: content.localFile, secret: options.secret };
  return rootCommand(change(`write ${path} (mode ${mode})`, ['sh', '-c', ATOMIC_WRITE, 'sh', path, mode], { stdin }), options.sudo ?? false);
}

/** Ensures a file has this content and mode. */
export function ensureFile(path: string, content: string | { localFile: string }, options: FileOptions): Ensure {
  return {
    name: options.name ?? path,
    check: fileMatches(path, content, options.mode, options),
    apply: [writeFile(path, content, options.mode, options), ...(options.afterChange ?? [])],
  };
}

/** Ensures a directory exists with a mode (and, as root, an owner). */
export function ensureDirectory(path: string, options: { mode: string; owner?: string; sudo?: boolean; name?: string }): Ensure {
  const ownerCheck = options.owner ? ` && test "$(stat -c %U "$1")" = "$3"` : '';
  const checkScript = `test -d "$1" && test "$(stat -c %a "$1")" = "$2"${ownerCheck}`;
  const installArgs = ['install', '-d', '-m', options.mode, ...(options.owner ? ['-o', options.owner, '-g', options.owner] : []), path];
  return {
    name: options.name ?? `directory ${path}`,
    check: rootCommand(read(`does ${path} exist (mode ${options.mode})`, ['sh', '-c', checkScript, 'sh', path, options.mode, ...(options.owner ? [options.owner] : [])]), options.sudo ?? false),
    apply: [rootCommand(change(`create ${path}`, installArgs), options.sudo ?? false)],
  };
}

export function parentOf(path: string): string {
  return posix.dirname(path);
}
