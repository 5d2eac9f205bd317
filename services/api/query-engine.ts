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
  queued: number;
  rejected: { overload: number; timeout: number };
}

/** The endpoints queries are accounted to (a label of the query metrics). */
export type QueryEndpoint = 'search' | 'export' | 'post' | 'timeseries' | 'hashtags';

interface Waiter {
  resolve: (connection: DuckDBConnection) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** Raised inside a query when it was cancelled because the client left. */
export class QueryCancelledError extends Error {
  constructor() {
    super('query cancelled: the client disconnected');
    this.name = 'QueryCancelledError';
  }
}

export class QueryEngine {
  readonly stats: QueryEngineStats = { running: 0, queued: 0, rejected: { overload: 0, timeout: 0 } };
  /** Called when a query ends, however it ends, with its duration in seconds (metrics). */
  onQueryDone: ((endpoint: QueryEndpoint, seconds: number) => void) | undefined;
  private readonly idle: DuckDBConnection[];
  private readonly waiters: Waiter[] = [];

  private constructor(
    private readonly instance: DuckDBInstance,
    connections: DuckDBConnection[],
    private readonly options: QueryEngineOptions,
  ) {
    this.idle = connections;
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
    const connection = await this.acquire();
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
      this.release(connection);
    }
  }

  private acquire(): Promise<DuckDBConnection> {
    const connection = this.idle.pop();
    if (connection) return Promise.resolve(connection);
    if (this.waiters.length >= this.options.maxQueued || this.options.queueTimeoutMs === 0) {
      this.stats.rejected.overload += 1;
      return Promise.reject(overloaded(1));
    }
    return new Promise<DuckDBConnection>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          this.stats.queued = this.waiters.length;
          this.stats.rejected.overload += 1;
          reject(overloaded(Math.max(1, Math.ceil(this.options.queueTimeoutMs / 1000))));
        }, this.options.queueTimeoutMs),
      };
      this.waiters.push(waiter);
      this.stats.queued = this.waiters.length;
    });
  }

  private release(connection: DuckDBConnection): void {
    const waiter = this.waiters.shift();
    this.stats.queued = this.waiters.length;
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(connection);
    } else {
      this.idle.push(connection);
    }
  }

  close(): void {
    for (const connection of this.idle) connection.closeSync();
    this.instance.closeSync();
  }
}
