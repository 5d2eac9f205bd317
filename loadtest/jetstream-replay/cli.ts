// `npm run replay -- [flags]`: a Jetstream replay server on a port, for load
// tests and `npm start`. Prints a banner (this is replayed demo data), then one
// JSON log line per progress report; SIGINT/SIGTERM close it cleanly.

import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger } from '../../services/shared/logger.ts';
import { exitOnStartupError, handleShutdown } from '../../services/shared/lifecycle.ts';
import { startReplayServer, type ReplayServerOptions, type Spike } from './server.ts';

const USAGE = `usage: npm run replay -- [flags]

A Jetstream v1 replay server: /subscribe speaks Jetstream's WebSocket protocol and
serves generated (or file) events — demo data, not the Bluesky network.

  --port N            listen port (default 6008; 0 = any free port)
  --host H            listen address (default 127.0.0.1)
  --rate N            events released per second (default 500; 0 = as fast as subscribers read)
  --total N           stop releasing after N events (default: never); history is still served
  --seed N            generator seed (default 1): same seed, same events
  --mix plan|network  generator traffic mix (default plan)
  --invalid-ratio R   share of generated events replaced by invalid frames, 0..1 (default 0)
  --file PATH         replay an NDJSON file (one event per line) instead of generating
  --keep-time         with --file: keep each line's time_us instead of the release time
  --spike FxS@T       multiply the rate by F for S seconds starting T seconds after start (e.g. 10x60@120)
  --outbox-limit N    drop a live subscriber this many events behind, like Jetstream (default 10000; 0 = never)
  --drop-every N      fault injection: cut every connection after it has sent N events
  --help              this text`;

class UsageError extends Error {}

function integer(flag: string, value: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag} must be an integer between ${min} and ${max}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

function decimal(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${flag} must be a number between ${min} and ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

function spike(value: string | undefined): Spike | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)@(\d+(?:\.\d+)?)$/.exec(value);
  if (!match || Number(match[1]) <= 0 || Number(match[2]) <= 0) {
    throw new UsageError(`--spike must look like FACTORxSECONDS@START (e.g. 10x60@120: 10x the rate for 60 s from second 120), got ${JSON.stringify(value)}`);
  }
  return { factor: Number(match[1]), durationSeconds: Number(match[2]), atSeconds: Number(match[3]) };
}

function parseFlags(argv: string[]): (ReplayServerOptions & { help?: false }) | { help: true } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        rate: { type: 'string' },
        total: { type: 'string' },
        seed: { type: 'string' },
        mix: { type: 'string' },
        'invalid-ratio': { type: 'string' },
        file: { type: 'string' },
        'keep-time': { type: 'boolean' },
        spike: { type: 'string' },
        'outbox-limit': { type: 'string' },
        'drop-every': { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return { help: true };

  const mix = values.mix;
  if (mix !== undefined && mix !== 'plan' && mix !== 'network') throw new UsageError(`--mix must be plan or network, got ${JSON.stringify(mix)}`);
  if (values.file !== undefined) {
    const generatorOnly = (['seed', 'mix', 'invalid-ratio'] as const).filter((flag) => values[flag] !== undefined);
    if (generatorOnly.length > 0) throw new UsageError(`--${generatorOnly.join(', --')} apply to the generator only and cannot be combined with --file`);
    if (!existsSync(values.file)) throw new UsageError(`--file ${values.file}: no such file`);
  } else if (values['keep-time']) {
    throw new UsageError('--keep-time applies to --file only');
  }
  const rate = decimal('rate', values.rate, 0, 10_000_000) ?? 500;
  const spiked = spike(values.spike);
  if (spiked && rate === 0) throw new UsageError('--spike needs a --rate above 0 (rate 0 releases as fast as subscribers read)');
  const host = values.host ?? '127.0.0.1';
  if (host.trim() === '') throw new UsageError('--host must not be empty');

  return {
    host,
    port: integer('port', values.port, 0, 65_535) ?? 6008,
    rate,
    total: integer('total', values.total, 1),
    seed: integer('seed', values.seed, 0, 4_294_967_295) ?? 1,
    mix,
    invalidRatio: decimal('invalid-ratio', values['invalid-ratio'], 0, 1),
    file: values.file,
    keepTime: values['keep-time'] ?? false,
    spike: spiked,
    outboxLimit: integer('outbox-limit', values['outbox-limit'], 0),
    dropEvery: integer('drop-every', values['drop-every'], 1),
  };
}

const PROGRESS_EVERY_MS = 5_000;
/** Closing the server only ends its connections: it never needs long. */
const REPLAY_SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  let options;
  try {
    options = parseFlags(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }

  const logger = createLogger('replay', process.env.LOG_LEVEL ?? 'info');
  let server;
  try {
    server = await startReplayServer({ ...options, logger });
  } catch (error) {
    exitOnStartupError(logger, error);
  }
  const stats = server.stats();
  const httpBase = server.url.replace(/^ws:/, 'http:').replace(/\/subscribe$/, '');
  const rule = '='.repeat(78);
  console.log(
    [
      rule,
      ' JETSTREAM REPLAY SERVER - replayed demo data, NOT the real Bluesky network',
      ` source:    ${stats.source}`,
      ` rate:      ${options.rate === 0 ? 'as fast as subscribers read' : `${options.rate} events/s`}${options.spike ? ` (x${options.spike.factor} for ${options.spike.durationSeconds} s from second ${options.spike.atSeconds})` : ''}; total: ${options.total ?? 'unlimited'}`,
      ` subscribe: ${server.url}`,
      ` stats:     ${httpBase}/stats   health: ${httpBase}/healthz`,
      rule,
    ].join('\n'),
  );
  logger.info({ url: server.url, port: server.port, source: stats.source }, 'replay server listening');

  // Progress: released count and the rate measured over the last window.
  let last = { released: 0, at: performance.now() };
  const progress = setInterval(() => {
    const now = performance.now();
    const s = server.stats();
    const ratePerSec = Math.round(((s.total - last.released) / (now - last.at)) * 1000);
    last = { released: s.total, at: now };
    logger.info(
      { released: s.total, ratePerSec, configuredRate: s.rate, invalid: s.invalid, connections: s.connections.open, framesSent: s.framesSent, exhausted: s.exhausted },
      'progress',
    );
  }, PROGRESS_EVERY_MS);

  handleShutdown(logger, async () => {
    clearInterval(progress);
    const s = server.stats();
    await server.close();
    logger.info({ released: s.total, framesSent: s.framesSent, dropped: s.connections.dropped }, 'replay server closed');
  }, REPLAY_SHUTDOWN_GRACE_MS);
}

main().catch((error: unknown) => exitOnStartupError(undefined, error));
