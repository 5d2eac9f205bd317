// TESTS ONLY: the images test/compose-stack.test.ts runs deploy/compose.yaml with, made
// on a machine that reaches no image registry (only Debian's mirror and npm's registry).
//
//   bpe-local/debian:bookworm-<hash>  `debootstrap --variant=minbase bookworm` from the mirror
//                                     apt uses here, imported with `docker import`
//   bpe-local/node:<version>-<hash>   FROM it: this machine's Node 20 and npm (images/node.Dockerfile);
//                                     the NODE_IMAGE deploy/Dockerfile is built with
//   bpe-standin/<service>:<hash>      FROM the Debian base: the third-party images compose.yaml
//                                     pins, from Debian packages (images/standins.Dockerfile)
//   bpe-app:test-<hash>               deploy/Dockerfile itself, FROM the local node image
//
// Every tag ends with a hash of its recipe (the Dockerfile, the files it copies, the image it
// is built FROM), and an image whose tag exists is not built again: the debootstrap (half a
// minute here) runs once per recipe, and a cached run costs seconds. The app image is built every
// run; Docker's layer cache makes that quick when the sources did not change.
//
// Builds use Docker's classic builder (DOCKER_BUILDKIT=0): BuildKit would fetch the frontend
// that deploy/Dockerfile's `# syntax=docker/dockerfile:1` line names from Docker Hub. The
// classic builder ignores that line, and ignores deploy/Dockerfile.dockerignore too (it reads
// only <context>/.dockerignore), so the app's build context is made here: the files git
// would archive (tracked, and untracked ones it does not ignore), minus the
// .dockerignore patterns, sent as a tar stream. Builds run with `--network host`: `npm ci`
// and `apt-get` reach the registries the way the host does.

import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdtemp, readFile, readdir, rm, writeFile, chmod, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { docker, run } from './engine.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const IMAGES_DIR = join(HERE, 'images');
export const REPO_ROOT = resolve(HERE, '..', '..');

/** compose.yaml's third-party images and the stand-in stage that replaces each (images/standins.Dockerfile). */
export const STANDINS = {
  redis: 'redis:7.2.7-alpine',
  prometheus: 'prom/prometheus:v2.55.1',
  alertmanager: 'prom/alertmanager:v0.27.0',
  'node-exporter': 'prom/node-exporter:v1.8.2',
  'redis-exporter': 'oliver006/redis_exporter:v1.66.0',
  'blackbox-exporter': 'prom/blackbox-exporter:v0.25.0',
  caddy: 'caddy:2.8.4-alpine',
} as const;
export type StandinName = keyof typeof STANDINS;
/** secrets-init's alpine (a shell and coreutils) is the Debian base itself. */
export const SHELL_IMAGE = 'alpine:3.20.3';

export interface TestImages {
  base: string;
  node: string;
  standins: Record<StandinName, string>;
  app: string;
  /** What each step cost (ms) and whether it was cached, for the test's output. */
  timings: { step: string; ms: number; cached: boolean }[];
}

const CLASSIC_BUILDER = { ...process.env, DOCKER_BUILDKIT: '0' };

function sha256(...parts: (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex');
}

async function imageExists(tag: string): Promise<boolean> {
  try {
    await docker(['image', 'inspect', '--format', '{{.Id}}', tag]);
    return true;
  } catch {
    return false;
  }
}

// --- the Debian base ------------------------------------------------------------------

export interface AptSources {
  /** The Debian archive (bookworm, bookworm-updates). */
  mirror: string;
  /** The security archive (bookworm-security). */
  security: string;
}

/**
 * The Debian mirrors apt uses on this machine (/etc/apt/sources.list and sources.list.d,
 * one-line and deb822 formats), so debootstrap and the images' apt use the same ones.
 */
export async function hostAptSources(root = '/etc/apt'): Promise<AptSources> {
  const texts: string[] = [];
  if (existsSync(join(root, 'sources.list'))) texts.push(await readFile(join(root, 'sources.list'), 'utf8'));
  if (existsSync(join(root, 'sources.list.d'))) {
    for (const name of (await readdir(join(root, 'sources.list.d'))).sort()) {
      if (name.endsWith('.list') || name.endsWith('.sources')) texts.push(await readFile(join(root, 'sources.list.d', name), 'utf8'));
    }
  }
  const entries: { uris: string[]; suites: string[] }[] = [];
  for (const text of texts) {
    // deb822 stanzas (blank-line separated, "Field: value") and one-line "deb [opts] URI suite comp..." entries.
    for (const stanza of text.split(/\n\s*\n/)) {
      const fields = new Map<string, string>();
      for (const line of stanza.split('\n')) {
        const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
        if (match) fields.set(match[1]!.toLowerCase(), match[2]!.trim());
        const oneLine = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
        if (oneLine) entries.push({ uris: [oneLine[1]!], suites: [oneLine[2]!] });
      }
      if (/\bdeb\b/.test(fields.get('types') ?? '') && fields.has('uris')) entries.push({ uris: fields.get('uris')!.split(/\s+/), suites: (fields.get('suites') ?? '').split(/\s+/) });
    }
  }
  const find = (suite: string) => entries.find((e) => e.suites.includes(suite))?.uris[0]?.replace(/\/+$/, '');
  return { mirror: find('bookworm') ?? 'http://deb.debian.org/debian', security: find('bookworm-security') ?? 'http://deb.debian.org/debian-security' };
}

/** Files written into the debootstrapped tree before it is imported (part of the recipe). */
function baseFiles(sources: AptSources): Record<string, { text: string; mode: number }> {
  return {
    'etc/apt/sources.list.d/debian.sources': {
      text: [
        'Types: deb',
        `URIs: ${sources.mirror}`,
        'Suites: bookworm bookworm-updates',
        'Components: main',
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
        '',
        'Types: deb',
        `URIs: ${sources.security}`,
        'Suites: bookworm-security',
        'Components: main',
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
        '',
      ].join('\n'),
      mode: 0o644,
    },
    // debootstrap's one-line list would duplicate the entry above.
    'etc/apt/sources.list': { text: '', mode: 0o644 },
    // As in Docker's own Debian images: no service starts while a package installs, no recommends, no caches.
    'usr/sbin/policy-rc.d': { text: '#!/bin/sh\nexit 101\n', mode: 0o755 },
    'etc/apt/apt.conf.d/90bpe-container': {
      text: 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\nAcquire::Languages "none";\nDPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\n',
      mode: 0o644,
    },
  };
}

export async function buildDebianBase(): Promise<{ tag: string; cached: boolean }> {
  const sources = await hostAptSources();
  const files = baseFiles(sources);
  const debootstrapArgs = ['--variant=minbase', '--components=main', 'bookworm'];
  const recipe = JSON.stringify({ debootstrapArgs, mirror: sources.mirror, files, import: ['CMD ["bash"]'] });
  const tag = `bpe-local/debian:bookworm-${sha256(recipe).slice(0, 12)}`;
  if (await imageExists(tag)) return { tag, cached: true };

  if (!existsSync('/usr/sbin/debootstrap')) throw new Error('debootstrap is not installed (Debian package debootstrap; scripts/bootstrap.sh installs it)');
  const work = await mkdtemp(join(tmpdir(), 'bpe-debootstrap-'));
  const rootfs = join(work, 'rootfs');
  try {
    await run('debootstrap', [...debootstrapArgs, rootfs, sources.mirror], { timeoutMs: 15 * 60_000 });
    for (const [path, file] of Object.entries(files)) {
      await writeFile(join(rootfs, path), file.text);
      await chmod(join(rootfs, path), file.mode);
    }
    await rm(join(rootfs, 'var/lib/apt/lists'), { recursive: true, force: true });
    await mkdir(join(rootfs, 'var/lib/apt/lists/partial'), { recursive: true });
    await rm(join(rootfs, 'var/cache/apt/archives'), { recursive: true, force: true });
    await mkdir(join(rootfs, 'var/cache/apt/archives/partial'), { recursive: true });
    // /dev is the engine's: the device nodes debootstrap made stay out of the image.
    const tar = spawn('tar', ['--numeric-owner', '--exclude=./dev/*', '-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await docker(['import', '--change', 'CMD ["bash"]', '-', tag], { input: tar.stdout, timeoutMs: 10 * 60_000 });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { tag, cached: false };
}

// --- Node 20 ----------------------------------------------------------------------------

export async function buildNodeImage(base: string): Promise<{ tag: string; cached: boolean }> {
  const node = process.execPath;
  const npmDir = resolve(dirname(node), '..', 'lib', 'node_modules', 'npm');
  if (!existsSync(join(npmDir, 'package.json'))) throw new Error(`npm is not installed beside ${node} (looked for ${npmDir})`);
  const npmVersion = (JSON.parse(await readFile(join(npmDir, 'package.json'), 'utf8')) as { version: string }).version;
  const caBundle = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'].find((p) => existsSync(p));
  if (!caBundle) throw new Error('no CA bundle on this machine (/etc/ssl/certs/ca-certificates.crt): install ca-certificates');
  const dockerfile = join(IMAGES_DIR, 'node.Dockerfile');
  const recipe = sha256(base, await readFile(node), npmVersion, await readFile(dockerfile), await readFile(caBundle));
  const tag = `bpe-local/node:${process.versions.node}-${recipe.slice(0, 12)}`;
  if (await imageExists(tag)) return { tag, cached: true };

  const context = await mkdtemp(join(tmpdir(), 'bpe-node-image-'));
  try {
    await copyFile(node, join(context, 'node'));
    await cp(npmDir, join(context, 'npm'), { recursive: true });
    await copyFile(caBundle, join(context, 'ca-bundle.crt'));
    await docker(['build', '--force-rm', '--network', 'host', '--build-arg', `BASE=${base}`, '--file', dockerfile, '--tag', tag, context], { env: CLASSIC_BUILDER, timeoutMs: 10 * 60_000 });
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  // The binary runs on bookworm's libraries (it links glibc, libstdc++ and libgcc_s only).
  const { stdout } = await docker(['run', '--rm', '--network', 'none', tag, 'node', '-p', 'process.versions.node']);
  if (stdout.trim() !== process.versions.node) throw new Error(`node in ${tag} says ${stdout.trim()}, not ${process.versions.node}`);
  return { tag, cached: false };
}

// --- stand-ins for the third-party images ---------------------------------------------------

export async function buildStandins(base: string): Promise<{ tags: Record<StandinName, string>; cached: boolean }> {
  const dockerfile = join(IMAGES_DIR, 'standins.Dockerfile');
  const recipe = sha256(base, await readFile(dockerfile), await readFile(join(IMAGES_DIR, 'redis-entrypoint.sh')));
  const tags = Object.fromEntries(Object.keys(STANDINS).map((name) => [name, `bpe-standin/${name}:${recipe.slice(0, 12)}`])) as Record<StandinName, string>;
  let cached = true;
  // One after another: the first builds the shared package layer, the others reuse it.
  for (const [name, tag] of Object.entries(tags)) {
    if (await imageExists(tag)) continue;
    cached = false;
    await docker(['build', '--force-rm', '--network', 'host', '--build-arg', `BASE=${base}`, '--target', name, '--file', dockerfile, '--tag', tag, IMAGES_DIR], {
      env: CLASSIC_BUILDER,
      timeoutMs: 15 * 60_000,
    });
  }
  return { tags, cached };
}

// --- the app image: deploy/Dockerfile ---------------------------------------------------------

/** deploy/Dockerfile.dockerignore's patterns as a matcher of context paths (no `!` exceptions are used there). */
export async function dockerignoreMatcher(file: string): Promise<(path: string) => boolean> {
  const patterns = (await readFile(file, 'utf8'))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const regexes = patterns.map((pattern) => {
    if (pattern.startsWith('!')) throw new Error(`${file}: exceptions (${pattern}) are not supported here`);
    const body = pattern
      .replace(/^\/+|\/+$/g, '')
      .split('/')
      .map((part) => (part === '**' ? '\u0000' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]*').replaceAll('?', '[^/]')))
      .join('/')
      .replaceAll('\u0000/', '(?:.*/)?')
      .replaceAll('\u0000', '.*');
    return new RegExp(`^${body}(?:/.*)?$`);
  });
  return (path) => regexes.some((regex) => regex.test(path));
}

/** The app's build context: what `git archive` of the work tree would hold, minus the .dockerignore patterns. */
async function appContextFiles(): Promise<string[]> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT });
  const ignored = await dockerignoreMatcher(join(REPO_ROOT, 'deploy', 'Dockerfile.dockerignore'));
  return [...new Set(stdout.split('\0').filter(Boolean))].filter((path) => !ignored(path) && existsSync(join(REPO_ROOT, path))).sort();
}

export async function buildAppImage(nodeImage: string): Promise<{ tag: string; cached: boolean }> {
  const files = await appContextFiles();
  const hash = createHash('sha256').update(nodeImage);
  for (const path of files) hash.update(path).update('\0').update(await readFile(join(REPO_ROOT, path))).update('\0');
  // The tag compose.yaml gives it (bpe-app:${BPE_RELEASE}), content-addressed: concurrent runs of
  // different trees never use each other's image.
  const tag = `bpe-app:test-${hash.digest('hex').slice(0, 12)}`;
  const cached = await imageExists(tag);
  const list = join(await mkdtemp(join(tmpdir(), 'bpe-app-context-')), 'files');
  try {
    await writeFile(list, files.join('\0'));
    const tar = spawn('tar', ['-c', '-f', '-', '--null', '--files-from', list], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    await docker(['build', '--force-rm', '--network', 'host', '--build-arg', `NODE_IMAGE=${nodeImage}`, '--file', 'deploy/Dockerfile', '--tag', tag, '-'], {
      env: CLASSIC_BUILDER,
      input: tar.stdout,
      timeoutMs: 20 * 60_000,
    });
  } finally {
    await rm(dirname(list), { recursive: true, force: true });
  }
  return { tag, cached };
}

/** Every image the test needs, built when missing. */
export async function buildTestImages(): Promise<TestImages> {
  const timings: TestImages['timings'] = [];
  const timed = async <T extends { cached: boolean }>(step: string, work: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await work();
    timings.push({ step, ms: Date.now() - started, cached: result.cached });
    return result;
  };
  const base = (await timed('debian base (debootstrap + import)', buildDebianBase)).tag;
  const node = (await timed('node image', () => buildNodeImage(base))).tag;
  const standins = (await timed('stand-in images', () => buildStandins(base))).tags;
  const app = (await timed('app image (deploy/Dockerfile)', () => buildAppImage(node))).tag;
  return { base, node, standins, app, timings };
}
