// DuckDB for the API: a fixed pool of connections (one query each at a time), a
// bounded wait queue in front of it, a time budget per query, and cancellation
// when the budget runs out or the client goes away (connection.interrupt()).

import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

/** The part of a DuckDB connection queries use; what `run` hands to its work. */
export type Queryable = Pick<DuckDBConnection, 'run' | 'runAndReadAll' | 'stream'>;
import { openDuckDB } from '../shared/duckdb.ts';
import { overloaded, queryTimeout } from './errors.ts';

export interface QueryEngineOptions {
  connections: number;
  queueTimeoutMs: number;
  maxQueued: number;
  memoryLimit: string;
  threads: number;
}

export interface QueryEngineStats {
  running: number;
  readonly queued: number;
  rejected: { overload: number; timeout: number };
}

/** The endpoints queries are accounted to (a label of the query metrics). */
export type QueryEndpoint = 'search' | 'export' | 'post' | 'timeseries' | 'hashtags';

interface Waiter<T> {
  resolve: (item: T) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * A fixed set of items (pooled connections, export slots) handed out one at a
 * time, with a bounded queue in front: a caller waits at most `queueTimeoutMs` and
 * at most `maxQueued` callers wait; the rest get 503 overloaded with Retry-After.
 * Waiters are served first come, first served.
 */
export class WaitQueue<T> {
  private readonly waiters: Waiter<T>[] = [];

  constructor(
    private readonly idle: T[],
    private readonly options: { queueTimeoutMs: number; maxQueued: number },
    /** Called for every request turned away, queue full or wait too long. */
    private readonly onOverload: () => void = () => undefined,
  ) {}

  get queued(): number {
    return this.waiters.length;
  }

  /** Items not handed out (for closing them). */
  get available(): readonly T[] {
    return this.idle;
  }

  acquire(): Promise<T> {
    const item = this.idle.pop();
    if (item !== undefined) return Promise.resolve(item);
    if (this.waiters.length >= this.options.maxQueued || this.options.queueTimeoutMs === 0) {
      this.onOverload();
      return Promise.reject(overloaded(1));
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          this.onOverload();
          reject(overloaded(Math.max(1, Math.ceil(this.options.queueTimeoutMs / 1000))));
        }, this.options.queueTimeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  release(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(item);
    } else {
      this.idle.push(item);
    }
  }
}

/** Raised inside a query when it was cancelled because the client left. */
export class QueryCancelledError extends Error {
  constructor() {
    super('query cancelled: the client disconnected');
    this.name = 'QueryCancelledError';
  }
}

export class QueryEngine {
  readonly stats: QueryEngineStats;
  /** Called when a query ends, however it ends, with its duration in seconds (metrics). */
  onQueryDone: ((endpoint: QueryEndpoint, seconds: number) => void) | undefined;
  private readonly pool: WaitQueue<DuckDBConnection>;

  private constructor(
    private readonly instance: DuckDBInstance,
    connections: DuckDBConnection[],
    private readonly options: QueryEngineOptions,
  ) {
    const rejected = { overload: 0, timeout: 0 };
    const pool = new WaitQueue(connections, options, () => (rejected.overload += 1));
    this.pool = pool;
    this.stats = {
      running: 0,
      get queued() {
        return pool.queued;
      },
      rejected,
    };
  }

  /** A queue of `slots` slots with this engine's queue settings, whose rejections count as the engine's (export slots). */
  slots(slots: number): WaitQueue<number> {
    return new WaitQueue(Array.from({ length: slots }, (_, i) => i), this.options, () => (this.stats.rejected.overload += 1));
  }

  static async create(options: QueryEngineOptions): Promise<QueryEngine> {
    const { instance, connection } = await openDuckDB({ memoryLimit: options.memoryLimit, threads: options.threads });
    // Parquet footers are read once and kept: most queries touch the same recent files.
    await connection.run('SET parquet_metadata_cache = true');
    const connections = [connection];
    for (let i = 1; i < options.connections; i++) connections.push(await instance.connect());
    return new QueryEngine(instance, connections, options);
  }

  /** A connection for setup work outside the pool's accounting (side tables). */
  async connect(): Promise<DuckDBConnection> {
    return this.instance.connect();
  }

  /**
   * Runs `work` with a pooled connection. Waits at most queueTimeoutMs for one
   * (then 503 overloaded), interrupts the query after timeoutMs (then 503 timeout)
   * or as soon as `signal` aborts (the client left).
   */
  async run<T>(endpoint: QueryEndpoint, work: (connection: Queryable) => Promise<T>, timeoutMs: number, signal?: AbortSignal): Promise<T> {
    const connection = await this.pool.acquire();
    const started = performance.now();
    this.stats.running += 1;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      connection.interrupt();
    }, timeoutMs);
    const onAbort = () => connection.interrupt();
    signal?.addEventListener('abort', onAbort, { once: true });
    // interrupt() stops the statement running now; a piece of work made of several
    // statements must not start the next one once its time is up or its client gone.
    const guard = <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
      (...args: A): Promise<R> => (timedOut || signal?.aborted ? Promise.reject(new Error('cancelled')) : call(...args));
    const guarded: Queryable = {
      run: guard(connection.run.bind(connection)),
      runAndReadAll: guard(connection.runAndReadAll.bind(connection)),
      stream: guard(connection.stream.bind(connection)),
    };
    try {
      if (signal?.aborted) throw new QueryCancelledError();
      const result = await work(guarded);
      // A result that arrived after the budget ran out is still an overrun.
      if (timedOut) throw new Error('cancelled');
      return result;
    } catch (error) {
      if (timedOut) {
        this.stats.rejected.timeout += 1;
        throw queryTimeout(timeoutMs);
      }
      if (signal?.aborted) throw new QueryCancelledError();
      throw error;
    } finally {
      this.onQueryDone?.(endpoint, (performance.now() - started) / 1000);
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.stats.running -= 1;
      this.pool.release(connection);
    }
  }

  close(): void {
    for (const connection of this.pool.available) connection.closeSync();
    this.instance.closeSync();
  }
}
